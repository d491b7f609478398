import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { JpegReceiver, type Received } from '../common/sockets/jpeg-receiver';
import { FramePublisher, type OutgoingFrame } from '../sender/send/frame-publisher';
import { encodeFrame, type FrameHeader } from '../common/wire/protocol';
import { bindEndpoint, TRANSPORTS } from './helpers/endpoints';
import { structuredJpeg } from './helpers/media';

const jpeg = (fill: number, size = 64): Buffer => structuredJpeg(32, 24, fill, size);
const frameFields = (seq: number): OutgoingFrame => ({ seq, captureUs: 1_000_000 + seq, width: 32, height: 24, codec: 'jpeg', quality: 80 });

/**
 * Calls `sendOne` with seq 0, 1, 2... until `receiving` settles, yielding to the event loop between
 * sends. PUB/SUB drops whatever precedes the subscription, so tests send until the receiver has what it needs.
 */
async function sendWhile<T>(receiving: Promise<T>, sendOne: (seq: number) => Promise<unknown>): Promise<T> {
  let done = false;
  receiving.then(
    () => (done = true),
    () => (done = true),
  );
  for (let seq = 0; !done; seq++) {
    await sendOne(seq);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return receiving;
}

/** Collects what the receiver yields until `stop` says enough. */
async function collect(receiver: JpegReceiver, stop: (items: Received[]) => boolean): Promise<Received[]> {
  const items: Received[] = [];
  for await (const item of receiver) {
    items.push(item);
    if (stop(items)) break;
  }
  return items;
}

for (const transport of TRANSPORTS) {
  describe(`FramePublisher -> JpegReceiver over ${transport}`, () => {
    for (const [senderPattern, receiverPattern] of [['pub', 'sub'], ['push', 'pull']] as const) {
      test(`${senderPattern}/${receiverPattern}: frames arrive intact and in order`, async (t) => {
        const sender = await FramePublisher.open({ pattern: senderPattern, attachment: { bind: bindEndpoint(transport) }, topic: 'cam1' }, 42);
        t.after(() => sender.close());
        const receiver = await JpegReceiver.open({ pattern: receiverPattern, attachment: { connect: [sender.endpoint] } });
        t.after(() => receiver.close());

        const received = await sendWhile(
          collect(receiver, (items) => items.length >= 10),
          (seq) => sender.sendJpg(frameFields(seq), jpeg(seq % 256), 2_000_000 + seq),
        );
        const frames = received.map((r) => (r.kind === 'frame' ? r.frame : assert.fail(`rejected: ${r.kind}`)));
        for (const frame of frames) {
          assert.equal(frame.topic, 'cam1');
          assert.equal(frame.header.session, 42);
          assert.deepEqual(frame.jpeg, jpeg(frame.header.seq % 256));
          assert.equal(frame.header.sendUs, 2_000_000 + frame.header.seq);
        }
        const seqs = frames.map((f) => f.header.seq);
        assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b));
      });
    }

    test('a subscriber filters on exact topics: "cam1" does not let "cam10" through', async (t) => {
      const cam10 = await FramePublisher.open({ pattern: 'pub', attachment: { bind: bindEndpoint(transport) }, topic: 'cam10' }, 1);
      t.after(() => cam10.close());
      const probe = await FramePublisher.open({ pattern: 'pub', attachment: { bind: bindEndpoint(transport) }, topic: 'probe' }, 2);
      t.after(() => probe.close());
      const receiver = await JpegReceiver.open({ pattern: 'sub', attachment: { connect: [cam10.endpoint, probe.endpoint] }, topics: ['cam1', 'probe'] });
      t.after(() => receiver.close());

      // cam10 always sends first, so had it passed the filter it would be among the first frames yielded.
      const received = await sendWhile(
        collect(receiver, (items) => items.length >= 5),
        async (seq) => {
          await cam10.sendJpg(frameFields(seq), jpeg(1), 1);
          await probe.sendJpg(frameFields(seq), jpeg(2), 1);
        },
      );
      const yielded = received.map((item) => (item.kind === 'frame' ? item.frame.topic : item.kind));
      assert.deepEqual(yielded, ['probe', 'probe', 'probe', 'probe', 'probe']);
    });

    test('receiver.close() ends iteration', async () => {
      const receiver = await JpegReceiver.open({ pattern: 'pull', attachment: { bind: bindEndpoint(transport) } });
      const iterating = (async () => {
        const items: Received[] = [];
        for await (const item of receiver) items.push(item);
        return items.length;
      })();
      receiver.close();
      receiver.close();
      assert.equal(await iterating, 0);
    });

    test('push with no receiver connected skips the frame instead of queueing it', async (t) => {
      const sender = await FramePublisher.open({ pattern: 'push', attachment: { bind: bindEndpoint(transport) }, topic: 'cam1' }, 1);
      t.after(() => sender.close());
      assert.equal(await sender.sendJpg(frameFields(0), jpeg(0), 1), false);
    });

    test('malformed and oversized messages beside a real sender are rejected, counted and passed over', async (t) => {
      const receiver = await JpegReceiver.open({ pattern: 'pull', attachment: { bind: bindEndpoint(transport) }, maxFrameBytes: 4096 });
      t.after(() => receiver.close());
      const sender = await FramePublisher.open({ pattern: 'push', attachment: { connect: [receiver.endpoint] }, topic: 'cam1' }, 1);
      t.after(() => sender.close());
      const rogue = new zmq.Push();
      t.after(() => rogue.close());
      rogue.connect(receiver.endpoint);

      const header: FrameHeader = { ...frameFields(0), session: 9, sendUs: 1 };
      const badMagic = encodeFrame('cam1', header, jpeg(0));
      badMagic[1].write('XXXX', 0, 'ascii');
      // One pipe delivers in order, so once the probe arrives every rogue message before it has been judged.
      await rogue.send([Buffer.from('cam1'), Buffer.from('only two parts')]);
      await rogue.send(badMagic);
      await rogue.send(encodeFrame('cam1', header, jpeg(0, 5000)));
      await rogue.send(encodeFrame('cam1', header, Buffer.from('not a jpeg at all')));
      await rogue.send(encodeFrame('probe', header, jpeg(0)));

      const isProbe = (item: Received): boolean => item.kind === 'frame' && item.frame.topic === 'probe';
      const isReal = (item: Received): boolean => item.kind === 'frame' && item.frame.topic === 'cam1';
      const received = await sendWhile(
        collect(receiver, (items) => items.some(isProbe) && items.filter(isReal).length >= 3),
        (seq) => sender.sendJpg(frameFields(seq), jpeg(1), 1),
      );
      const reasons = received.flatMap((item) => (item.kind === 'rejected' ? [item.error.reason] : []));
      const realFrames = received.filter(isReal).length;
      assert.deepEqual(reasons.sort(), ['jpeg-markers', 'magic', 'oversized', 'part-count']);
      assert.ok(realFrames >= 3);
    });

    if (transport !== 'inproc') {
      test('a message past the transport cap (2x maxFrameBytes) cuts off only that peer; the stream goes on', async (t) => {
        const receiver = await JpegReceiver.open({ pattern: 'pull', attachment: { bind: bindEndpoint(transport) }, maxFrameBytes: 4096 });
        t.after(() => receiver.close());
        const sender = await FramePublisher.open({ pattern: 'push', attachment: { connect: [receiver.endpoint] }, topic: 'cam1' }, 1);
        t.after(() => sender.close());
        const rogue = new zmq.Push({ reconnectInterval: -1 });
        t.after(() => rogue.close());
        rogue.connect(receiver.endpoint);

        const cutOff = new Promise((resolve) => rogue.events.on('disconnect', resolve));
        await rogue.send(encodeFrame('cam1', { ...frameFields(0), session: 9, sendUs: 1 }, jpeg(0, 64 * 1024)));
        // libzmq refuses the part before buffering it and drops the rogue connection.
        await cutOff;

        const received = await sendWhile(
          collect(receiver, (items) => items.length >= 3),
          (seq) => sender.sendJpg(frameFields(seq), jpeg(1), 1),
        );
        assert.deepEqual(received.map((r) => r.kind), ['frame', 'frame', 'frame']);
      });

      test('a SUB that connected comes back by itself after its sender sent a message past the transport cap, and counts the cut-off', { timeout: 60_000 }, async (t) => {
        // A deep queue, so PUB cannot drop the oversized frame itself for a full queue.
        const sender = await FramePublisher.open({ pattern: 'pub', attachment: { bind: bindEndpoint(transport) }, topic: 'cam1', sendHighWaterMark: 10_000 }, 1);
        t.after(() => sender.close());
        const cutOffs: string[] = [];
        const receiver = await JpegReceiver.open({ pattern: 'sub', attachment: { connect: [sender.endpoint] }, maxFrameBytes: 4096, onPeerCutOff: (endpoint) => cutOffs.push(endpoint) });
        t.after(() => receiver.close());
        const frames = receiver[Symbol.asyncIterator]();
        /** Frames already queued before the oversized one may come first; only those sent after it count. */
        const takeFrames = async (n: number, fromSeq: number): Promise<number[]> => {
          const seqs: number[] = [];
          while (seqs.length < n) {
            const next: IteratorResult<Received> = await frames.next();
            if (next.done) break;
            const value = next.value;
            if (value.kind === 'frame' && value.frame.header.seq >= fromSeq) seqs.push(value.frame.header.seq);
          }
          return seqs;
        };
        await sendWhile(takeFrames(1, 0), (seq) => sender.sendJpg(frameFields(seq), jpeg(1), 1));
        // libzmq ends a connection that carries a part past ZMQ_MAXMSGSIZE and, on the connecting side, never redials it by itself.
        assert.equal(await sender.sendJpg(frameFields(1000), jpeg(0, 64 * 1024), 1), true);
        const after = await sendWhile(takeFrames(3, 2000), (seq) => sender.sendJpg(frameFields(2000 + seq), jpeg(1), 1));
        assert.equal(after.length, 3);
        assert.deepEqual(cutOffs, [sender.endpoint]);
      });
    }
  });
}
