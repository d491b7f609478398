import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OrderedEncodePipeline } from '../sender/encode/encode-pipeline';
import { SharpJpegEncoder } from '../sender/encode/sharp-jpeg-encoder';
import type { RawFrame } from '../sender/sources/frame-source';
import { testPatternLayout, TestPatternSource, TEST_PATTERN_BARS } from '../sender/sources/test-pattern';
import { colorDistance, decodeJpeg, pixelAt } from './helpers/media';

const encoder = new SharpJpegEncoder({ quality: 80, optimiseCoding: false });

describe('test pattern and JPEG encoding', () => {
  test('testsrc bars survive JPEG at known pixels', async () => {
    const source = new TestPatternSource(640, 480);
    const frame = (await source.read())!;
    const image = await decodeJpeg((await encoder.encode(frame)).jpeg);
    const layout = testPatternLayout(640, 480);
    assert.equal(TEST_PATTERN_BARS.length, 8);
    TEST_PATTERN_BARS.forEach((expected, bar) => {
      const x = Math.round((bar + 0.5) * (640 / 8));
      const actual = pixelAt(image, x, Math.round(layout.barsHeight / 2));
      assert.ok(colorDistance(actual, expected) <= 24, `bar ${bar}: ${actual.join(',')} vs ${expected.join(',')}`);
    });
  });

  test('the box moves and the burned-in frame number changes from frame to frame', async () => {
    const source = new TestPatternSource(320, 240);
    const layout = testPatternLayout(320, 240);
    const first = (await source.read())!;
    for (let i = 0; i < 9; i++) await source.read();
    const tenth = (await source.read())!;
    const boxCentre = (index: number): [number, number] => [layout.boxX(index) + layout.box / 2, layout.boxY + layout.box / 2];
    const at = (frame: RawFrame, [x, y]: [number, number]): number[] => [...frame.pixels.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3)];
    assert.notEqual(layout.boxX(0), layout.boxX(10));
    assert.deepEqual(at(first, boxCentre(0)), [255, 255, 255]);
    assert.notDeepEqual(at(tenth, boxCentre(0)), [255, 255, 255]);
    assert.deepEqual(at(tenth, boxCentre(10)), [255, 255, 255]);
    const textBand = (frame: RawFrame): Buffer => frame.pixels.subarray(layout.textY * 320 * 3, (layout.textY + 7 * layout.textScale) * 320 * 3);
    assert.notDeepEqual(textBand(first), textBand(tenth));
    assert.ok(tenth.captureUs > first.captureUs);
  });

  test('a resize setting scales the JPEG to fit inside the box, keeping the aspect ratio', async () => {
    const frame = (await new TestPatternSource(640, 480).read())!;
    const encoded = await new SharpJpegEncoder({ quality: 80, optimiseCoding: false, resize: { width: 320, height: 320 } }).encode(frame);
    assert.deepEqual([encoded.width, encoded.height], [320, 240]);
    const image = await decodeJpeg(encoded.jpeg);
    assert.deepEqual([image.width, image.height], [320, 240]);
  });

  test('optimiseCoding makes a smaller JPEG of the same picture', async () => {
    const frame = (await new TestPatternSource(640, 480).read())!;
    const plain = await encoder.encode(frame);
    const optimised = await new SharpJpegEncoder({ quality: 80, optimiseCoding: true }).encode(frame);
    assert.ok(optimised.jpeg.length < plain.jpeg.length, `${optimised.jpeg.length} vs ${plain.jpeg.length}`);
  });
});

describe('OrderedEncodePipeline', () => {
  test('delivers frames in submission order even when later encodes finish first', async () => {
    const big = (await new TestPatternSource(1920, 1080).read())!;
    const small = (await new TestPatternSource(64, 48).read())!;
    const delivered: number[] = [];
    const finished: number[] = [];
    const timedEncoder = {
      encode: async (frame: RawFrame) => {
        const result = await encoder.encode(frame);
        finished.push(frame.width);
        return result;
      },
    } as unknown as SharpJpegEncoder;
    const pipeline = new OrderedEncodePipeline(timedEncoder, (seq) => Promise.resolve(void delivered.push(seq)), 4);
    await pipeline.submit(0, big);
    for (let seq = 1; seq < 8; seq++) await pipeline.submit(seq, small);
    await pipeline.flush();
    assert.deepEqual(delivered, [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.notEqual(finished[0], 1920, 'a small frame finished encoding before the big one, so ordering was needed');
  });

  test('an encode failure surfaces from flush() and nothing after it is delivered', async () => {
    const delivered: number[] = [];
    const pipeline = new OrderedEncodePipeline(encoder, (seq) => Promise.resolve(void delivered.push(seq)), 2);
    const good = (await new TestPatternSource(64, 48).read())!;
    await pipeline.submit(0, good);
    await pipeline.submit(1, { ...good, pixels: Buffer.alloc(10) });
    await pipeline.submit(2, good).catch(() => undefined);
    await assert.rejects(pipeline.flush());
    assert.deepEqual(delivered, [0]);
  });
});
