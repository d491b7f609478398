import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { Audience } from '../sender/send/audience';
import { FramePublisher } from '../sender/send/frame-publisher';
import { CliProcess } from './helpers/cli-process';
import { bindEndpoint, ipcEndpoint } from './helpers/endpoints';
import { assertIdlesAgain } from './helpers/on-demand';

const signal = (t: TestContext): AbortSignal => {
  const controller = new AbortController();
  t.after(() => controller.abort());
  return controller.signal;
};

const subscribe = (prefix: string): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from(prefix)]);
const unsubscribe = (prefix: string): Buffer => Buffer.concat([Buffer.from([0]), Buffer.from(prefix)]);

describe('Audience: who watches a stream', () => {
  test('only subscriptions whose prefix matches the topic count, until they are withdrawn', () => {
    const audience = new Audience(Buffer.from('cam1'), 'subscriptions');
    audience.onSubscriptionMessage(subscribe('cam2'));
    audience.onSubscriptionMessage(subscribe('cam10'));
    assert.equal(audience.watched, false, 'other topics, and a longer topic that cam1 is a prefix of, do not count');
    audience.onSubscriptionMessage(subscribe('cam'));
    assert.equal(audience.watched, true);
    audience.onSubscriptionMessage(subscribe(''));
    audience.onSubscriptionMessage(unsubscribe('cam'));
    assert.equal(audience.watched, true, 'the empty subscription (every stream) still matches');
    audience.onSubscriptionMessage(unsubscribe(''));
    assert.equal(audience.watched, false);
  });

  test('PUSH peers count up on connect and down on disconnect, never below zero', () => {
    const audience = new Audience(Buffer.from('cam1'), 'peers');
    audience.onPeerDisconnected();
    assert.equal(audience.watched, false);
    audience.onPeerConnected();
    audience.onPeerConnected();
    audience.onPeerDisconnected();
    assert.equal(audience.watched, true);
    audience.onPeerDisconnected();
    assert.equal(audience.watched, false);
  });
});

for (const transport of ['tcp', 'ipc', 'inproc'] as const) {
  describe(`on-demand FramePublisher over ${transport}`, () => {
    test('a PUB sender is watched while a receiver subscribes to its topic, and not once it leaves', async (t) => {
      const sender = await FramePublisher.open({ pattern: 'pub', attachment: { bind: bindEndpoint(transport) }, topic: 'cam1' }, 1);
      t.after(() => sender.close());
      assert.equal(sender.watched, false);
      const other = new zmq.Subscriber();
      t.after(() => other.close());
      other.subscribe('cam2');
      other.connect(sender.endpoint);
      const viewer = new zmq.Subscriber();
      t.after(() => viewer.close());
      viewer.subscribe('cam1');
      viewer.connect(sender.endpoint);
      assert.equal(await sender.whenWatched(signal(t)), true);
      viewer.close();
      assert.equal(await sender.whenUnwatched(signal(t)), true, 'the cam2 subscriber, still connected, does not count');
      assert.equal(sender.watched, false);
    });

    if (transport !== 'inproc') {
      test('a PUSH sender is watched while a receiver is connected, and not once it leaves', async (t) => {
        const sender = await FramePublisher.open({ pattern: 'push', attachment: { bind: bindEndpoint(transport) }, topic: 'cam1' }, 1);
        t.after(() => sender.close());
        assert.equal(sender.watched, false);
        const pull = new zmq.Pull();
        t.after(() => pull.close());
        pull.connect(sender.endpoint);
        assert.equal(await sender.whenWatched(signal(t)), true);
        pull.close();
        assert.equal(await sender.whenUnwatched(signal(t)), true);
      });
      test('a PUSH sender that connects is watched while its receiver is up, and not once it goes', async (t) => {
        const pull = new zmq.Pull({ linger: 0 });
        t.after(() => pull.close());
        await pull.bind(bindEndpoint(transport));
        const sender = await FramePublisher.open({ pattern: 'push', attachment: { connect: [pull.lastEndpoint!] }, topic: 'cam1' }, 1);
        t.after(() => sender.close());
        assert.equal(await sender.whenWatched(signal(t)), true);
        pull.close();
        assert.equal(await sender.whenUnwatched(signal(t)), true);
      });
    } else {
      test('an inproc PUSH sender counts as always watched (inproc has no connection events)', async (t) => {
        const sender = await FramePublisher.open({ pattern: 'push', attachment: { bind: bindEndpoint(transport) }, topic: 'cam1' }, 1);
        t.after(() => sender.close());
        assert.equal(sender.watched, true);
      });
    }
  });
}

describe('zerocam-sender on demand', () => {
  test('captures nothing and says "idle: no receivers" until a receiver subscribes, and idles again when it leaves', async (t) => {
    const sender = new CliProcess('sender', ['--bind', ipcEndpoint(), '--width', '160', '--height', '120', '--fps', '30', '--topic', 'cam1']);
    t.after(() => sender.stop());
    const endpoint = await sender.ready();
    await sender.waitForJson('stderr', (r) => r.event === 'idle');
    const idle = await sender.waitForJson('stdout', (r) => r.idle === true);
    assert.equal(idle.frames, 0);

    const receiver = new CliProcess('receiver', ['--connect', endpoint, '--no-stats']);
    t.after(() => receiver.stop());
    await sender.waitForJson('stderr', (r) => r.event === 'watched');
    await sender.waitForJson('stdout', (r) => r.idle === false && Number(r.frames) > 0);

    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0);
    await assertIdlesAgain(sender);

    sender.kill('SIGTERM');
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
  });
});
