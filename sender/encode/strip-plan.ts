import { MAX_RESTART_INTERVAL } from './jpeg-restart';

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

/** Frames between tries of the option not currently preferred, so a change in load is noticed. */
export const STRIP_PROBE_EVERY = 30;
/** Weight of the newest encode time in the running average of each option. */
const SMOOTHING = 0.2;
/**
 * The share of a whole frame's encode time strips must save to be chosen. Strips cost CPU a whole
 * frame does not (per-strip set-up, the join, a wake-up per strip): about 1.2 ms more per 720p
 * frame here, 20% of the sender's CPU, for 0.2-0.5 ms less latency (docs/benchmarks.md, Speed III).
 * On a camera host CPU is power and heat, so strips must buy a clear gain.
 */
export const STRIPS_MIN_GAIN = 0.25;

/**
 * Chooses how many strips to cut the next frame into, and learns from how long encodes take.
 *
 * A fixed `--strips N` is used as given. `auto`: a whole frame whenever other frames are still
 * encoding (unthrottled: whole frames in parallel keep every core busy without the joins). At a
 * camera's pace, one strip per core, unless strips have not been finishing at least STRIPS_MIN_GAIN
 * sooner than whole frames: on a machine whose other cores are busy with other work, strips queue
 * behind that work and a frame in strips takes longer than a whole one (docs/benchmarks.md), and a
 * small gain is not worth their CPU. Each option's encode time is a running
 * average; the other option is tried every STRIP_PROBE_EVERY frames.
 * Huffman-optimised coding gives each strip its own tables, which cannot be joined: always 1.
 */
export class StripChooser {
  private readonly averageUs = new Map<number, number>();
  private framesSinceProbe = 0;

  constructor(
    private readonly setting: StripSetting,
    private readonly cores: number,
    private readonly optimiseCoding: boolean,
  ) {}

  stripsFor(encodesInFlight: number): number {
    if (this.optimiseCoding) return 1;
    if (this.setting !== 'auto') return this.setting;
    if (encodesInFlight > 0 || this.cores <= 1) return 1;
    const preferred = this.preferred();
    if (++this.framesSinceProbe >= STRIP_PROBE_EVERY) {
      this.framesSinceProbe = 0;
      return preferred === 1 ? this.cores : 1;
    }
    return preferred;
  }

  /** The wall time of an encode done in `strips` strips while nothing else of ours was encoding. */
  record(strips: number, encodeUs: number, encodesInFlight: number): void {
    if (this.setting !== 'auto' || encodesInFlight > 0) return;
    const key = strips > 1 ? this.cores : 1;
    const previous = this.averageUs.get(key);
    this.averageUs.set(key, previous === undefined ? encodeUs : previous + SMOOTHING * (encodeUs - previous));
  }

  private preferred(): number {
    const striped = this.averageUs.get(this.cores);
    const whole = this.averageUs.get(1);
    return striped !== undefined && whole !== undefined && striped > whole * (1 - STRIPS_MIN_GAIN) ? 1 : this.cores;
  }
}
