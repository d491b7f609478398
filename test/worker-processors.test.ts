import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { chooseProcessor } from '../worker/processors/choose-processor';
import type { WorkFrame } from '../worker/processors/processor';
import { BRIGHTNESS_PLUGIN } from './helpers/workers';

const W = 320;
const H = 240;

/** A grey frame, with a white square at (x, y) if given. */
async function frame(seq: number, square?: { x: number; y: number; side: number }): Promise<WorkFrame> {
  const base = sharp({ create: { width: W, height: H, channels: 3, background: { r: 60, g: 60, b: 60 } } });
  const composite = square
    ? base.composite([{ input: { create: { width: square.side, height: square.side, channels: 3, background: { r: 255, g: 255, b: 255 } } }, left: square.x, top: square.y }])
    : base;
  const jpeg = await composite.jpeg({ quality: 90 }).toBuffer();
  return { jpeg, topic: 'cam', session: 1, seq, captureUs: 0, width: W, height: H };
}

const overlaps = (box: { x: number; y: number; w: number; h: number }, square: { x: number; y: number; side: number }): boolean =>
  box.x < square.x + square.side && square.x < box.x + box.w && box.y < square.y + square.side && square.y < box.y + box.h;

describe('built-in processors and plug-ins', () => {
  test('motion: the changed fraction and a box around what changed, per stream', async () => {
    const motion = await chooseProcessor('motion');
    const square = { x: 200, y: 40, side: 60 };
    assert.deepEqual((await motion.process(await frame(0))).result, { changed: 0, boxes: [], first: true });
    const { result } = await motion.process(await frame(1, square));
    const boxes = result.boxes as Array<{ x: number; y: number; w: number; h: number }>;
    assert.ok(Number(result.changed) > 0.02 && Number(result.changed) < 0.2, `changed ${String(result.changed)}`);
    assert.equal(boxes.length, 1);
    assert.ok(overlaps(boxes[0]!, square), JSON.stringify(boxes));
  });

  test('faces: boxes from the frontal-face cascade (none in a frame without a face)', async () => {
    const faces = await chooseProcessor('faces');
    assert.deepEqual((await faces.process(await frame(0, { x: 10, y: 10, side: 50 }))).result, { faces: 0, boxes: [] });
  });

  test('thumbnail: a small JPEG as the result image', async () => {
    const thumbnail = await chooseProcessor('thumbnail');
    const { result, image } = await thumbnail.process(await frame(0));
    assert.ok(image);
    const meta = await sharp(image).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 160, 120]);
    assert.deepEqual(result, { width: 160, height: 120, bytes: image.length });
  });

  test('the example plug-in (worker/examples/brightness.mjs) loads and boxes the brightest tile', async () => {
    const plugin = await chooseProcessor(BRIGHTNESS_PLUGIN);
    assert.equal(plugin.name, 'brightness');
    const { result } = await plugin.process(await frame(0, { x: 0, y: 0, side: 80 }));
    const [box] = result.boxes as Array<Record<string, unknown>>;
    assert.deepEqual({ ...box, label: undefined }, { x: 0, y: 0, w: 80, h: 60, label: undefined });
    assert.match(String(box?.label), /^bright \d+$/);
  });

  test('a plug-in path that does not exist, or exports no function, is a usage error', async () => {
    await assert.rejects(chooseProcessor('/nonexistent/plugin.mjs'), /no such file/);
    await assert.rejects(chooseProcessor(__filename.replace(/\.js$/, '.js.map')), /cannot load|exports no function/);
  });
});
