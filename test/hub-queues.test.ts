import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { highWaterMarkFor } from '../hub/burst-high-water-mark';
import { DEFAULTS } from '../common/defaults';
import { decodeFrame, encodeFrame } from '../common/wire/protocol';
import { CliProcess } from './helpers/cli-process';
import { startHub } from './helpers/hub';
import { structuredJpeg } from './helpers/media';

/**
 * The hub's queue per receiver with `--hwm auto` (#11): it fits a burst of one frame from every live
 * stream, and no more. The frames here are 200 KB, far more than the kernel's 16 KiB buffers hold, and
 * the receiver reads nothing while a burst goes out, so the burst must wait in the hub's queue.
 */

const CAMERAS = 6;
const ROUNDS = 4;
const FRAME_BYTES = 200_000;

test('highWaterMarkFor: 1 for one stream (or none), then room for a burst of one frame per stream despite libzmq counting reads in batches', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 6, 24].map(highWaterMarkFor), [1, 1, 2, 4, 6, 10, 46]);
});

describe('zerocam-hub --hwm auto', () => {
  test('--hwm takes auto or a number of frames; anything else is one readable line and exit 2', async (t) => {
    const hub = new CliProcess('hub', ['--hwm', '0', '--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*']);
    t.after(() => hub.stop());
    const { code } = await hub.exited;
    assert.equal(code, 2);
    assert.deepEqual(hub.stderr, ["zerocam-hub: option '--hwm <frames>' argument '0' is invalid. expected auto or a whole number from 1 to 10000"]);
  });

  test(`a burst of one frame from each of ${CAMERAS} cameras waits whole for a receiver that is not reading, round after round, and the hub reports the queue it sized`, async (t) => {
    const hub = await startHub(t, ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*']);
    // One socket plays every camera; an XPUB, so the test sees the hub's subscription arrive.
    const cameras = new zmq.XPublisher({ linger: 0, sendHighWaterMark: 1000 });
    // A frame the hub dropped would leave a receive waiting: the timeout turns that into a failure.
    const blocked = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 1, receiveBufferSize: 16 * 1024, receiveTimeout: 20_000 });
    // Reads at once, so the test knows when the hub has sent a burst on (to every pipe in one go)
    // without leaving the blocked receiver unread for long: the hub's heartbeats would time it out.
    const watcher = new zmq.Subscriber({ linger: 0, receiveTimeout: 20_000 });
    t.after(() => {
      cameras.close();
      blocked.close();
      watcher.close();
    });
    cameras.connect(hub.senders);
    for (const receiver of [blocked, watcher]) {
      receiver.connect(hub.receivers);
      receiver.subscribe('');
    }
    const [subscription] = await cameras.receive();
    assert.equal(subscription?.[0], 1);

    const topics = Array.from({ length: CAMERAS }, (_, i) => `cam${i}`);
    const session = Date.now() * 1000;
    const sendBurst = async (round: number): Promise<void> => {
      for (const [i, topic] of topics.entries()) {
        const header = { session: session + i, seq: round, captureUs: Date.now() * 1000, sendUs: Date.now() * 1000, width: 32, height: 24, codec: 'jpeg' as const, quality: 80 };
        await cameras.send(encodeFrame(topic, header, structuredJpeg(32, 24, round, FRAME_BYTES)));
      }
    };
    // Every camera's frame of `round`; repeats of earlier ones (the hub's cache answering a
    // subscription, docs/protocol.md "Repeats and duplicates") are skipped.
    const receiveBurst = async (receiver: zmq.Subscriber, round: number): Promise<void> => {
      const received = new Set<string>();
      while (received.size < CAMERAS) {
        const frame = decodeFrame(await receiver.receive(), { maxFrameBytes: FRAME_BYTES * 2 });
        if (frame.header.seq < round || received.has(frame.topic)) continue;
        assert.equal(frame.header.seq, round, `round ${round}: ${frame.topic} seq ${frame.header.seq}`);
        received.add(frame.topic);
      }
      assert.deepEqual([...received].sort(), topics);
    };

    // Round 0 warms up: both receivers read it (live, or from the cache if a subscription came late),
    // so both have a pipe at the hub before the bursts that count.
    await sendBurst(0);
    await Promise.all([receiveBurst(blocked, 0), receiveBurst(watcher, 0)]);
    for (let round = 1; round <= ROUNDS; round++) {
      await sendBurst(round);
      await receiveBurst(watcher, round);
      await receiveBurst(blocked, round);
    }
    const record = await hub.process.waitForJson('stdout', (r) => typeof r.frames === 'number' && r.frames >= (ROUNDS + 1) * CAMERAS);
    assert.equal(record.hwm, highWaterMarkFor(CAMERAS));
  });

  test('the queue is fixed when the hub starts: with more live streams than it fits a burst of, the hub says which --hwm would', async (t) => {
    const hub = await startHub(t, ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*']);
    const cameras = new zmq.XPublisher({ linger: 0, sendHighWaterMark: 1000 });
    const receiver = new zmq.Subscriber({ linger: 0 });
    t.after(() => {
      cameras.close();
      receiver.close();
    });
    cameras.connect(hub.senders);
    receiver.connect(hub.receivers);
    receiver.subscribe('');
    await cameras.receive();
    const streams = (DEFAULTS.hubPubsubHighWaterMark + 2) / 2 + 1;
    for (let i = 0; i < streams; i++) {
      const header = { session: 1, seq: 0, captureUs: Date.now() * 1000, sendUs: Date.now() * 1000, width: 32, height: 24, codec: 'jpeg' as const, quality: 80 };
      await cameras.send(encodeFrame(`cam${i}`, header, structuredJpeg(32, 24)));
    }
    const warning = await hub.process.waitForJson('stderr', (r) => r.event === 'hwm-short');
    assert.deepEqual([warning.needed, warning.hwm], [highWaterMarkFor(streams), DEFAULTS.hubPubsubHighWaterMark]);
    assert.match(String(warning.msg), new RegExp(`^${streams} live streams: .* \\(restart with --hwm ${highWaterMarkFor(streams)}\\)$`));
    const record = await hub.process.waitForJson('stdout', (r) => r.frames === streams);
    assert.equal(record.hwm, DEFAULTS.hubPubsubHighWaterMark);
  });
});
