import assert from 'node:assert/strict';
import { JPEG_MARKER } from '../../common/wire/jpeg-structure';
import type { ChannelOrder, RawFrame } from '../../sender/sources/frame-source';

/** Frame sizes and strip counts every encoder's strips are checked at: 1080 is not a multiple of 16, odd widths, tiny frames, one strip. */
export const STRIP_CASES: ReadonlyArray<readonly [width: number, height: number, strips: number]> = [
  [1280, 720, 2],
  [1280, 720, 4],
  [1920, 1080, 2],
  [1920, 1080, 3],
  [641, 479, 4],
  [333, 77, 2],
  [64, 16, 4],
  [320, 240, 1],
];

/** Camera-like content: a gradient with per-pixel noise, so every MCU's entropy-coded data differs. */
export function noisyFrame(width: number, height: number, seed = 1, order: ChannelOrder = 'rgb'): RawFrame {
  const pixels = Buffer.alloc(width * height * 3);
  let state = seed;
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const x = Math.floor(i / 3) % width;
    pixels[i] = ((x * 255) / width + (state >> 16) % 48) & 0xff;
  }
  return { pixels, order, width, height, captureUs: 0 };
}

export function maxDifference(a: Buffer, b: Buffer): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

export function countRestartMarkers(jpeg: Buffer): number {
  let count = 0;
  for (let i = 0; i + 1 < jpeg.length; i++) if (jpeg[i] === 0xff && jpeg[i + 1]! >= JPEG_MARKER.RST0 && jpeg[i + 1]! <= 0xd7) count++;
  return count;
}
