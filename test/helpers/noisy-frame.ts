import assert from 'node:assert/strict';
import { JPEG_MARKER } from '../../common/jpeg-structure';
import type { ChannelOrder, RawFrame } from '../../sender/sources/frame-source';

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
