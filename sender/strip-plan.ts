import { MAX_RESTART_INTERVAL } from '../common/jpeg-restart';

/** 4:2:0 JPEG: an MCU is 16x16 pixels, so strips are cut at multiples of 16 rows. */
export const MCU_SIZE = 16;

/** --strips: a fixed count, or `auto` (see stripsFor). */
export type StripSetting = number | 'auto';

/**
 * Row ranges that split a `height`-row frame into at most `strips` strips, each but the last a
 * multiple of the MCU height, the last taking what is left. Fewer come back when the frame has
 * fewer MCU rows than strips asked for, and more when a strip would hold more MCUs than a restart
 * interval can count (very wide frames).
 */
export function planStrips(width: number, height: number, strips: number): Array<{ top: number; height: number }> {
  const mcuRows = Math.ceil(height / MCU_SIZE);
  const mcusPerRow = Math.ceil(width / MCU_SIZE);
  const rowsPerStrip = Math.min(Math.ceil(mcuRows / Math.max(1, strips)), Math.floor(MAX_RESTART_INTERVAL / mcusPerRow));
  if (strips <= 1 || rowsPerStrip >= mcuRows) return [{ top: 0, height }];
  const stripHeight = rowsPerStrip * MCU_SIZE;
  const plan: Array<{ top: number; height: number }> = [];
  for (let top = 0; top < height; top += stripHeight) plan.push({ top, height: Math.min(stripHeight, height - top) });
  return plan;
}

/**
 * How many strips to cut the next frame into. `auto`: all `cores` when no other frame is being
 * encoded (a camera's pace: the frame's latency is one strip's encode time), a whole frame when
 * others are (unthrottled: whole frames in parallel keep every core busy without the joins).
 * Huffman-optimised coding gives each strip its own tables, which cannot be joined: always 1.
 */
export function stripsFor(setting: StripSetting, encodesInFlight: number, cores: number, optimiseCoding: boolean): number {
  if (optimiseCoding) return 1;
  if (setting !== 'auto') return setting;
  return encodesInFlight === 0 ? cores : 1;
}
