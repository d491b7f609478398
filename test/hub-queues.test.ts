import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { highWaterMarkFor } from '../common/burst-high-water-mark';
import { decodeFrame, encodeFrame } from '../common/protocol';
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
  test(`a burst of one frame from each of ${CAMERAS} cameras waits whole for a receiver that is not reading, round after round, and the hub reports the queue it sized`, async (t) => {
    const hub = await startHub(t, ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*']);
    // One socket plays every camera; an XPUB, so the test sees the hub's subscription arrive.
    const cameras = new zmq.XPublisher({ linger: 0, sendHighWaterMark: 1000 });
    // A frame the hub dropped would leave a receive waiting: the timeout turns that into a failure.
    const receiver = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 1, receiveBufferSize: 16 * 1024, receiveTimeout: 20_000 });
    t.after(() => {
      cameras.close();
      receiver.close();
    });
    cameras.connect(hub.senders);
    receiver.connect(hub.receivers);
    receiver.subscribe('');
    // The receiver's subscription travels to the cameras through the hub: its pipe at the hub exists.
    const [subscription] = await cameras.receive();
    assert.equal(subscription?.[0], 1);

    const topics = Array.from({ length: CAMERAS }, (_, i) => `cam${i}`);
    const session = Date.now() * 1000;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, topic] of topics.entries()) {
        const header = { session: session + i, seq: round, captureUs: Date.now() * 1000, sendUs: Date.now() * 1000, width: 32, height: 24, codec: 'jpeg' as const, quality: 80 };
        await cameras.send(encodeFrame(topic, header, structuredJpeg(32, 24, round, FRAME_BYTES)));
      }
      // The hub has taken the whole burst in (and sent it on) before the receiver reads any of it.
      const forwarded = (round + 1) * CAMERAS;
      const record = await hub.process.waitForJson('stdout', (r) => typeof r.frames === 'number' && r.frames >= forwarded);
      assert.equal(record.hwm, highWaterMarkFor(CAMERAS));
      // Every camera's frame of this round arrives; a repeat of one (the hub's cache answering a
      // subscription, docs/protocol.md "Repeats and duplicates") may come too, and is skipped here.
      const received = new Set<string>();
      while (received.size < CAMERAS) {
        const frame = decodeFrame(await receiver.receive(), { maxFrameBytes: FRAME_BYTES * 2 });
        if (received.has(frame.topic)) continue;
        assert.equal(frame.header.seq, round, `round ${round}: ${frame.topic} seq ${frame.header.seq}`);
        received.add(frame.topic);
      }
      assert.deepEqual([...received].sort(), topics);
    }
  });
});
