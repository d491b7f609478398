import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { OrderedEncodePipeline } from '../sender/encode/encode-pipeline';
import type { EncodedFrame } from '../sender/encode/frame-encoder';
import { SharpJpegEncoder } from '../sender/encode/sharp-jpeg-encoder';
import type { RawFrame } from '../sender/sources/frame-source';
import { OpenCvSource } from '../sender/sources/opencv-source';
import { TestPatternSource } from '../sender/sources/test-pattern';
import { makeClip } from './helpers/media';

describe('pixel buffers handed back with RawFrame.release()', () => {
  let dir: string;
  let clip: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zc-reuse-'));
    clip = await makeClip(join(dir, 'testsrc.mp4'), 'testsrc', { width: 160, height: 120, fps: 25, seconds: 1 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('the OpenCV source reuses a released buffer, and never one still held', async (t) => {
    const source = OpenCvSource.openFile(clip, true);
    t.after(() => source.close());
    const first = (await source.read())!;
    const second = (await source.read())!;
    assert.notEqual(second.pixels, first.pixels, 'nothing was released yet');
    first.release?.();
    const third = (await source.read())!;
    assert.equal(third.pixels, first.pixels, 'the released buffer came back');
    const fourth = (await source.read())!;
    assert.ok(fourth.pixels !== second.pixels && fourth.pixels !== third.pixels, 'held buffers are never handed out again');
  });

  test('releasing a frame twice gives its buffer back once', async (t) => {
    const source = OpenCvSource.openFile(clip, true);
    t.after(() => source.close());
    const frame = (await source.read())!;
    frame.release?.();
    frame.release?.();
    const a = (await source.read())!;
    const b = (await source.read())!;
    assert.notEqual(a.pixels, b.pixels);
  });

  test('a reused buffer holds the new frame, in RGB', async (t) => {
    const red = await makeClip(join(dir, 'red.mp4'), 'color=c=red', { width: 160, height: 120, fps: 25, seconds: 1 });
    const source = OpenCvSource.openFile(red, true);
    t.after(() => source.close());
    const first = (await source.read())!;
    first.pixels.fill(0);
    first.release?.();
    const again = (await source.read())!;
    assert.equal(again.pixels, first.pixels);
    const [r, g, b] = again.pixels.subarray(0, 3);
    assert.ok(r! > 200 && g! < 40 && b! < 40, `rgb(${r},${g},${b})`);
  });

  test('the encode pipeline releases every frame once, after it is delivered', async () => {
    const events: string[] = [];
    const encoder = new SharpJpegEncoder({ quality: 80, optimiseCoding: false });
    const pipeline = new OrderedEncodePipeline(
      encoder,
      (seq) => Promise.resolve(void events.push(`deliver ${seq}`)),
      2,
    );
    const source = new TestPatternSource(64, 48);
    for (let seq = 0; seq < 4; seq++) {
      const frame = (await source.read())!;
      await pipeline.submit(seq, { ...frame, release: () => events.push(`release ${seq}`) });
    }
    await pipeline.flush();
    await new Promise((resolve) => setImmediate(resolve));
    for (let seq = 0; seq < 4; seq++) {
      assert.equal(events.filter((e) => e === `release ${seq}`).length, 1, events.join(', '));
      assert.ok(events.indexOf(`deliver ${seq}`) < events.indexOf(`release ${seq}`), events.join(', '));
    }
  });

  test('after a failure, frames are still released, and only once their encode has finished', async () => {
    const released: number[] = [];
    const finished: number[] = [];
    let failSeq0: () => void = () => undefined;
    const encoder = {
      encode: async (frame: RawFrame): Promise<EncodedFrame> => {
        const seq = frame.captureUs;
        if (seq === 0) {
          await new Promise<void>((_, reject) => (failSeq0 = () => reject(new Error('encode failed'))));
        }
        finished.push(seq);
        return { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), width: 1, height: 1, encodeUs: 1, strips: 1, quality: 80 };
      },
    } as unknown as SharpJpegEncoder;
    const pipeline = new OrderedEncodePipeline(encoder, () => Promise.resolve(), 4);
    const frame = (seq: number): RawFrame => ({ pixels: Buffer.alloc(3), order: 'rgb', width: 1, height: 1, captureUs: seq, release: () => released.push(seq) });
    await pipeline.submit(0, frame(0));
    await pipeline.submit(1, frame(1));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(released, [], 'frame 1 waits for frame 0 to be delivered first');
    failSeq0();
    await assert.rejects(pipeline.flush(), /encode failed/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(released.sort(), [0, 1]);
    assert.deepEqual(finished, [1]);
  });
});
