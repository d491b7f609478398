import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { checkConnectEndpoints, hostNameOf, HostNameWatch, type HostLookup } from '../common/sockets/endpoint';
import { UsageError } from '../common/errors';
import { tempDir } from './helpers/temp-dir';

const lookupError = (code: string): Error => Object.assign(new Error(`getaddrinfo ${code}`), { code });

describe('connect endpoints, checked before any socket connects', () => {
  test('hostNameOf: the name in a tcp:// endpoint, not an address, and nothing for other transports', () => {
    assert.equal(hostNameOf('tcp://camhost:5555'), 'camhost');
    assert.equal(hostNameOf('tcp://cam1.lan:5555'), 'cam1.lan');
    assert.equal(hostNameOf('tcp://eth0;camhost:5555'), 'camhost', 'a source address before the host');
    for (const endpoint of ['tcp://127.0.0.1:5555', 'tcp://[::1]:5555', 'ipc:///tmp/cam.sock', 'inproc://cam']) assert.equal(hostNameOf(endpoint), undefined, endpoint);
  });

  test('a host name that does not exist is a usage error naming the endpoint; addresses and names that resolve pass', async () => {
    assert.deepEqual(await checkConnectEndpoints(['tcp://127.0.0.1:5555', 'tcp://localhost:5555', 'inproc://cam']), []);
    await assert.rejects(checkConnectEndpoints(['tcp://localhost:5555', 'tcp://nosuchhost.invalid:5555']), (error: unknown) => {
      assert.ok(error instanceof UsageError);
      assert.equal(error.message, 'cannot connect to tcp://nosuchhost.invalid:5555: nosuchhost.invalid does not resolve (no such host)');
      return true;
    });
  });

  test('a name server that does not answer is no usage error: the name may resolve once the network is up', async () => {
    const unanswered: HostLookup = () => Promise.reject(lookupError('EAI_AGAIN'));
    assert.deepEqual(await checkConnectEndpoints(['tcp://camhost:5555'], unanswered), [
      { endpoint: 'tcp://camhost:5555', host: 'camhost', reason: 'camhost could not be looked up (EAI_AGAIN)' },
    ]);
  });

  test('an ipc path in a directory that does not exist, or in a file, is a usage error; a socket its peer has not bound yet is not', async (t) => {
    const dir = await tempDir(t, 'zc-endpoints-');
    await writeFile(join(dir, 'file'), '');
    assert.deepEqual(await checkConnectEndpoints([`ipc://${join(dir, 'not-bound-yet.sock')}`, 'ipc://@abstract-name']), []);
    await assert.rejects(checkConnectEndpoints([`ipc://${join(dir, 'missing', 'cam.sock')}`]), {
      name: 'UsageError',
      message: `cannot connect to ipc://${join(dir, 'missing', 'cam.sock')}: the directory ${join(dir, 'missing')} does not exist`,
    });
    await assert.rejects(checkConnectEndpoints([`ipc://${join(dir, 'file', 'cam.sock')}`]), { name: 'UsageError', message: /file is not a directory$/ });
  });
});

/** A stand-in for dns.lookup whose answers the test sets, and which says when it has been asked `count` more times. */
class ScriptedLookup {
  failure: string | undefined;
  private calls = 0;
  private waiters: Array<{ at: number; resolve: () => void }> = [];
  readonly lookup: HostLookup = (host) => {
    this.calls++;
    for (const waiter of this.waiters.filter((w) => w.at <= this.calls)) waiter.resolve();
    this.waiters = this.waiters.filter((w) => w.at > this.calls);
    return this.failure === undefined ? Promise.resolve({ address: '192.0.2.1', family: 4, host }) : Promise.reject(lookupError(this.failure));
  };

  asked(count: number): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ at: this.calls + count, resolve }));
  }
}

describe('HostNameWatch: a host name that stops resolving while a program runs', () => {
  test('is reported once when it stops resolving, and once when it resolves again', async (t) => {
    const dns = new ScriptedLookup();
    const changes: Array<[string, string | undefined]> = [];
    const watch = new HostNameWatch(['tcp://camhost:5555', 'tcp://127.0.0.1:5556', 'tcp://eth0;camhost:5557'], (host, problem) => changes.push([host, problem]), 1, new Map(), dns.lookup);
    t.after(() => watch.close());

    await dns.asked(3);
    assert.deepEqual(changes, [], 'resolving as at start: nothing to say');
    dns.failure = 'ENOTFOUND';
    await dns.asked(5);
    assert.deepEqual(changes, [['camhost', 'camhost does not resolve (no such host)']], 'once, for the name, however many lookups fail');
    dns.failure = undefined;
    await dns.asked(5);
    assert.deepEqual(changes.slice(1), [['camhost', undefined]]);
  });

  test('a name that already failed at start is not reported again until it changes', async (t) => {
    const dns = new ScriptedLookup();
    dns.failure = 'EAI_AGAIN';
    const changes: Array<[string, string | undefined]> = [];
    const failing = new Map([['camhost', 'camhost could not be looked up (EAI_AGAIN)']]);
    const watch = new HostNameWatch(['tcp://camhost:5555'], (host, problem) => changes.push([host, problem]), 1, failing, dns.lookup);
    t.after(() => watch.close());
    await dns.asked(3);
    assert.deepEqual(changes, []);
    dns.failure = 'ENOTFOUND';
    await dns.asked(3);
    assert.deepEqual(changes, [['camhost', 'camhost does not resolve (no such host)']]);
  });

  test('after close() it says nothing more, not even of a lookup under way that fails', async (t) => {
    const changes: string[] = [];
    let fail: (error: Error) => void = () => assert.fail('not asked');
    let onAsked: () => void = () => undefined;
    const asked = new Promise<void>((resolve) => (onAsked = resolve));
    const pending: HostLookup = () => {
      onAsked();
      return new Promise((_, reject) => (fail = reject));
    };
    const watch = new HostNameWatch(['tcp://camhost:5555'], (host) => changes.push(host), 1, new Map(), pending);
    t.after(() => watch.close());
    await asked;
    watch.close();
    fail(lookupError('ENOTFOUND'));
    // Every promise reaction runs before the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(changes, []);
  });
});
