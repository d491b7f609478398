import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { encodeImagezmqJpeg } from '../common/wire/imagezmq-protocol';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { freeTcpPort, ipcEndpoint } from './helpers/endpoints';
import { framesOf, startHub, type Hub } from './helpers/hub';
import { colorDistance, decodeJpeg, pixelAt, structuredJpeg } from './helpers/media';
import { webUrl } from './helpers/web-url';
import { readMjpegParts } from './helpers/mjpeg';
import { assertIdlesAgain } from './helpers/on-demand';
import { skipWithoutPython } from './helpers/python';
import { readIndex } from './helpers/recordings';
import { tempDir } from './helpers/temp-dir';

const SMALL = ['--width', '320', '--height', '240'];
/** What test/python/imagezmq_sender.py sends: a 64x48 frame, red unless told otherwise. */
const RED: [number, number, number] = [255, 0, 0];

function start(t: TestContext, name: 'sender' | 'receiver' | 'hub' | 'viewer' | 'python', args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = new CliProcess(name, args, env);
  t.after(() => child.stop());
  return child;
}

/** A hub with its receivers on an ephemeral loopback port; its senders side is up to `args`. */
const startIntakeHub = (t: TestContext, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Hub> => startHub(t, ['--receivers', 'tcp://127.0.0.1:*', ...args], env);
const TMP = 'zc-hub-intake-';

/** Checks a saved or served JPEG: the imagezmq sender's 64x48 red frame. */
async function assertRedFrame(jpeg: Buffer | string): Promise<void> {
  const image = await decodeJpeg(jpeg);
  assert.deepEqual([image.width, image.height], [64, 48]);
  assert.ok(colorDistance(pixelAt(image, 32, 24), RED) < 12, `red arrives red, got ${pixelAt(image, 32, 24).join(',')}`);
}

/** A receiver that joins once the hub has the stream: the last-frame cache gives it the newest frame. */
async function lateReceiverEntry(t: TestContext, hub: Hub, topic: string) {
  const dir = await tempDir(t, TMP);
  const receiver = start(t, 'receiver', ['--connect', hub.receivers, '--topic', topic, '--out', dir, '--no-fsync', '--frames', '1', '--no-stats']);
  assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
  const [entry, ...more] = await readIndex(dir);
  assert.ok(entry);
  assert.equal(more.length, 0);
  return { entry, file: join(dir, entry.file) };
}

describe('zerocam-hub --sender-pattern req --sender-wire imagezmq (in place of an imagezmq ImageHub)', () => {
  for (const kind of ['jpg', 'image'] as const) {
    test(`an imagezmq REQ sender's send_${kind} frames are each answered OK and reach a receiver and a viewer as zerocam frames`, async (t) => {
      if (skipWithoutPython(t)) return;
      const hub = await startIntakeHub(t, ['--senders', ipcEndpoint(), '--sender-pattern', 'req', '--sender-wire', 'imagezmq']);
      const sender = start(t, 'python', ['imagezmq_sender.py', 'req', hub.senders, kind, 'pi-cam1 garage door', '5']);
      assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
      assert.deepEqual(sender.stdout, Array(5).fill('reply OK'), 'each frame is acknowledged OK, as an ImageHub does');
      const hubRecord = await hub.process.waitForJson('stdout', (r) => framesOf(r, 'pi-cam1') === 5);
      assert.equal(hubRecord.rejected, 0);

      const { entry, file } = await lateReceiverEntry(t, hub, 'pi-cam1');
      assert.deepEqual([entry.seq, entry.width, entry.height, entry.captureUs], [4, 64, 48, 0], 'the newest frame, numbered by the hub; capture time unknown');
      await assertRedFrame(file);

      const viewer = start(t, 'viewer', ['--web', '--port', '0', '--connect', hub.receivers, '--topic', 'pi-cam1']);
      const url = String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
      // The URL the viewer prints carries its token; the MJPEG URL takes it the same way (?token=).
      const response = await fetch(webUrl(url, 'stream/pi-cam1.mjpeg'));
      const [part] = await readMjpegParts(response.body!, 1);
      await assertRedFrame(part!);
    });
  }

  test('a malformed message is answered "ERR <reason>", counted and not forwarded; the next good one is answered OK', async (t) => {
    const hub = await startIntakeHub(t, ['--senders', ipcEndpoint(), '--sender-pattern', 'req', '--sender-wire', 'imagezmq']);
    const requester = new zmq.Request({ linger: 0, receiveTimeout: 10_000 });
    t.after(() => requester.close());
    requester.connect(hub.senders);
    await requester.send([Buffer.from('not json'), structuredJpeg(32, 24)]);
    assert.equal((await requester.receive())[0]!.toString(), 'ERR imagezmq-metadata');
    await requester.send(encodeImagezmqJpeg('cam7', structuredJpeg(32, 24)));
    assert.equal((await requester.receive())[0]!.toString(), 'OK');
    const record = await hub.process.waitForJson('stdout', (r) => framesOf(r, 'cam7') === 1);
    assert.deepEqual(record.rejectedByReason, { 'imagezmq-metadata': 1 });
    assert.match(hub.process.stderr.join('\n'), /dropped a malformed message \(imagezmq-metadata\)/);
  });
});

describe('zerocam-hub --senders-connect (PUB senders that bind)', () => {
  test('with --sender-wire imagezmq the hub connects SUB to an imagezmq PUB sender and a receiver gets its frames live', async (t) => {
    if (skipWithoutPython(t)) return;
    const sender = start(t, 'python', ['imagezmq_sender.py', 'pub', ipcEndpoint(), 'image', 'pi-cam2', '0']);
    const bound = (await sender.waitForLine('stdout', (line) => line.startsWith('bound'))).split(' ')[1]!;
    const hub = await startIntakeHub(t, ['--sender-wire', 'imagezmq', '--senders-connect', bound]);
    assert.equal(hub.senders, bound);
    const dir = await tempDir(t, TMP);
    const statsFile = join(dir, 'stats.json');
    const receiver = start(t, 'receiver', ['--connect', hub.receivers, '--out', dir, '--no-fsync', '--frames', '3', '--stats-json', statsFile, '--no-stats']);
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
    assert.deepEqual([summary.frames, summary.rejected, summary.latencyFrames], [3, 0, 0]);
    const index = await readIndex(dir);
    assert.ok(index.length >= 1);
    const seqs = index.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'seq counted per topic by the hub, in order');
    for (const entry of index) {
      assert.equal(entry.topic, 'pi-cam2');
      await assertRedFrame(join(dir, entry.file));
    }
    hub.process.kill('SIGTERM');
    assert.equal((await hub.process.exited).code, 0, hub.process.stderr.join('\n'));
  });

  test('--senders-connect also takes zerocam senders that bind: their XPUB hears the subscriptions that reach the hub, and idles without them', async (t) => {
    const sender = start(t, 'sender', ['--bind', ipcEndpoint(), '--topic', 'cam1', '--width', '160', '--height', '120', '--fps', '30']);
    const bound = await sender.ready();
    const hub = await startIntakeHub(t, ['--senders-connect', bound]);
    assert.equal((await hub.process.waitForJson('stderr', (r) => r.event === 'forwarding')).intake, 'proxy');
    await sender.waitForJson('stdout', (r) => r.idle === true && r.frames === 0);
    const receiver = start(t, 'receiver', ['--connect', hub.receivers, '--topic', 'cam1']);
    await receiver.waitForJson('stdout', (r) => framesOf(r, 'cam1') >= 3 && r.rejected === 0);
    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0);
    await assertIdlesAgain(sender);
  });
});

describe('zerocam-hub --sender-pattern req (zerocam REQ senders)', () => {
  test('set through ZEROCAM_SENDER_PATTERN: every frame of a REQ sender is acknowledged, counted once by the hub and served to receivers', async (t) => {
    const hub = await startIntakeHub(t, ['--senders', ipcEndpoint()], { ZEROCAM_SENDER_PATTERN: 'req' });
    assert.equal((await hub.process.waitForJson('stderr', (r) => r.event === 'forwarding')).intake, 'rep');
    const live = start(t, 'receiver', ['--connect', hub.receivers, '--topic', 'cam1']);
    const dir = await tempDir(t, TMP);
    const senderStats = join(dir, 'sender.json');
    const sender = start(t, 'sender', ['--pattern', 'req', '--connect', hub.senders, '--topic', 'cam1', ...SMALL, '--fps', '30', '--frames', '20', '--stats-json', senderStats, '--no-stats']);
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    const summary = JSON.parse(await readFile(senderStats, 'utf8')) as JsonRecord;
    assert.deepEqual([summary.frames, summary.timeouts], [20, 0], 'every frame acknowledged');
    await hub.process.waitForJson('stdout', (r) => framesOf(r, 'cam1') === 20 && r.rejected === 0);

    const liveRecord = await live.waitForJson('stdout', (r) => framesOf(r, 'cam1') >= 1);
    assert.equal(liveRecord.rejected, 0);
    const { entry } = await lateReceiverEntry(t, hub, 'cam1');
    assert.deepEqual([entry.seq, entry.width, entry.height], [19, 320, 240], "the sender's own seq and size, as it sent them");
    assert.ok(entry.captureUs > 0, 'zerocam frames keep their capture time');
    hub.process.kill('SIGTERM');
    assert.equal((await hub.process.exited).code, 0, hub.process.stderr.join('\n'));
  });

  test('the hub is killed mid-stream and restarted: the REQ sender survives, counts timeouts and resumes; the receiver gets frames again', async (t) => {
    const args = ['--senders', `tcp://127.0.0.1:${await freeTcpPort()}`, '--receivers', `tcp://127.0.0.1:${await freeTcpPort()}`, '--sender-pattern', 'req'];
    const first = await startIntakeHub(t, args);
    const receiver = start(t, 'receiver', ['--connect', first.receivers]);
    const sender = start(t, 'sender', ['--pattern', 'req', '--connect', first.senders, '--topic', 'cam1', ...SMALL, '--fps', '30', '--reply-timeout', '300']);
    const before = framesOf(await receiver.waitForJson('stdout', (r) => framesOf(r, 'cam1') >= 5), 'cam1');

    first.process.kill('SIGKILL');
    await first.process.exited;
    const outage = await sender.waitForJson('stdout', (r) => Number(r.timeouts) >= 1);
    const mark = receiver.stdout.length;
    await startIntakeHub(t, args);
    await sender.waitForLine('stderr', (line) => line.includes('"reply-recovered"'));
    await sender.waitForJson('stdout', (r) => Number(r.frames) > Number(outage.frames));
    await receiver.waitForJson('stdout', (r) => receiver.stdout.length > mark && framesOf(r, 'cam1') >= before + 10);

    sender.kill('SIGTERM');
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
  });
});

describe('an unwatched camera behind the hub idles', () => {
  test('a sender connected to the hub idles until a receiver subscribes through the hub, streams, and idles again when it leaves', async (t) => {
    const hub = await startIntakeHub(t, ['--senders', ipcEndpoint()]);
    const sender = start(t, 'sender', ['--connect', hub.senders, '--topic', 'cam1', '--width', '160', '--height', '120', '--fps', '30']);
    await sender.waitForJson('stderr', (r) => r.event === 'idle');
    const idle = await sender.waitForJson('stdout', (r) => r.idle === true);
    assert.equal(idle.frames, 0);

    const receiver = start(t, 'receiver', ['--connect', hub.receivers, '--topic', 'cam1', '--no-stats']);
    await sender.waitForJson('stderr', (r) => r.event === 'watched');
    await sender.waitForJson('stdout', (r) => r.idle === false && Number(r.frames) > 0);

    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0);
    await assertIdlesAgain(sender);
  });

  test('behind a hub with --http a camera nobody watches idles between discovery pulses; an MJPEG client keeps it streaming until it leaves', { timeout: 60_000 }, async (t) => {
    const token = 'hub-on-demand-token';
    const hub = await startIntakeHub(t, ['--senders', ipcEndpoint(), '--http', '0', '--discovery-interval', '2'], { ZEROCAM_TOKEN: token });
    const { url } = await hub.process.waitForJson('stderr', (r) => r.event === 'serving');
    const sender = start(t, 'sender', ['--connect', hub.senders, '--topic', 'cam1', '--width', '160', '--height', '120', '--fps', '30']);
    await hub.process.waitForJson('stdout', (r) => framesOf(r, 'cam1') > 0);
    await sender.waitForJson('stdout', (r) => r.idle === true && Number(r.frames) > 0);

    const client = new AbortController();
    t.after(() => client.abort());
    const response = await fetch(new URL('stream/cam1.mjpeg', String(url)), { headers: { authorization: `Bearer ${token}` }, signal: client.signal });
    // Read on for as long as the client stays (a client that stops reading is still connected, but this one watches).
    const reader = response.body!.getReader();
    await new Promise<void>((resolve) => {
      let parts = 0;
      const readOn = async (): Promise<void> => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          parts += Buffer.from(value).toString('latin1').split('Content-Type: image/jpeg').length - 1;
          if (parts >= 3) resolve();
        }
      };
      readOn().catch(() => undefined);
    });
    const watchedFrom = sender.stdout.length;
    const recordsSince = (mark: number): JsonRecord[] => sender.stdout.slice(mark).map((line) => JSON.parse(line) as JsonRecord);
    // Four stats records span two discovery intervals: without the client's own request one would say idle.
    await sender.waitForJson('stdout', () => recordsSince(watchedFrom).length >= 4);
    assert.deepEqual(recordsSince(watchedFrom).map((r) => r.idle), [false, false, false, false]);

    client.abort();
    const leftAt = sender.stdout.length;
    await sender.waitForJson('stdout', () => recordsSince(leftAt).some((r) => r.idle === true));
  });
});

describe('zerocam-hub sender-side flags', () => {
  for (const [what, args, message] of [
    ['req senders with --senders-connect', ['--sender-pattern', 'req', '--senders-connect', 'tcp://127.0.0.1:9'], /REQ senders connect to the hub/],
    ['imagezmq pub senders without --senders-connect', ['--sender-wire', 'imagezmq'], /imagezmq PUB senders bind/],
    ['push senders into a pubsub hub', ['--sender-pattern', 'push'], /does not fit --pattern pubsub/],
    ['imagezmq push senders', ['--pattern', 'pipeline', '--sender-wire', 'imagezmq'], /imagezmq senders use req or pub/],
    ['--senders with --senders-connect', ['--senders', ipcEndpoint(), '--senders-connect', 'tcp://127.0.0.1:9'], /cannot be used with/],
    ['an unknown sender pattern', ['--sender-pattern', 'rep'], /Allowed choices/],
  ] as const) {
    test(`${what}: one readable line and exit code 2`, async (t) => {
      const child = start(t, 'hub', ['--receivers', ipcEndpoint(), ...args]);
      const { code } = await child.exited;
      const lines = child.stderr.filter(Boolean);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^zerocam-hub: \S/);
      assert.match(lines[0]!, message);
      assert.equal(code, 2);
    });
  }

  test('--help explains the sender side and when cameras behind --http idle', async (t) => {
    const child = start(t, 'hub', ['--help']);
    assert.equal((await child.exited).code, 0);
    const help = child.stdout.join('\n');
    for (const flag of ['--sender-pattern', '--sender-wire', '--senders-connect', 'ZEROCAM_SENDER']) assert.ok(help.includes(flag), flag);
    assert.match(help, /--discovery-interval/);
    assert.match(help, /cameras nobody watches idle/);
  });
});
