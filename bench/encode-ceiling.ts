import { availableParallelism } from 'node:os';
import type { Mat } from '@u4/opencv4nodejs';
import sharpLibrary from 'sharp';
import { DEFAULTS } from '../common/defaults';
import type { JpegSettings } from '../sender/encode/frame-encoder';
import { SharpJpegEncoder } from '../sender/encode/sharp-jpeg-encoder';
import type { RawFrame } from '../sender/sources/frame-source';
import { loadOpenCv, type OpenCv } from '../common/opencv-loader';
import { OpenCvSource } from '../sender/sources/opencv-source';
import { sizeLabel, type Clip } from './clip';
import { ForeignLoad } from './foreign-load';
import { round3 } from './usage-meter';

export interface StageCost {
  /** Median wall time of one call, ms. */
  msPerFrame: number;
  /** Process CPU (every thread) per call, ms. */
  cpuMsPerFrame: number;
}

export interface EncoderCost extends StageCost {
  /** Frames per second on one core: 1000 / msPerFrame. */
  fps: number;
  meanBytes: number;
}

export interface EncodeCeiling {
  size: string;
  frames: number;
  cores: number;
  /** zerocam's OpenCvSource.read() as the sender uses it: read, BGR -> RGB, hand over, release. */
  capture: StageCost;
  /** OpenCV's VideoCapture.read() alone: what the file (or camera) itself costs. */
  decode: StageCost;
  /** sharp, in zerocam's settings (quality 80, 4:2:0, optimiseCoding as DEFAULTS). */
  sharp: EncoderCost & { parallelFps: number };
  /** sharp with optimiseCoding flipped from the default, to show what the default buys. */
  sharpOtherCoding: EncoderCost & { optimiseCoding: boolean };
  /**
   * sharp with no encode at all (raw pixels in, raw pixels out): what libvips' pipeline costs
   * around the JPEG compressor, the part of sharp's time that imencode does not have.
   */
  sharpPassThrough: StageCost;
  /** cv.imencode: libjpeg-turbo with OpenCV's defaults, the reference. */
  imencode: EncoderCost & { parallelFps: number };
  /** The entropy-coded data (from the SOS marker on) of sharp's and imencode's JPEGs of one frame are identical. */
  sameScanData: boolean;
  /** The whole files are identical (they differ only if one writes header segments the other does not). */
  sameBytes: boolean;
  /** Per cent of the machine's CPU time that other processes used meanwhile; null off Linux. */
  otherProcessesPercent: number | null;
}

type Step = (i: number) => Promise<number> | number;

function cpuMsNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * Runs every step once per round, `count` rounds, one call at a time. Interleaved, the stages a
 * ratio compares share the machine's conditions (a shared machine's load comes and goes), which
 * back-to-back runs would not. A step returns a size, averaged as meanResult.
 */
async function interleaved<K extends string>(count: number, steps: Record<K, Step>): Promise<Record<K, StageCost & { meanResult: number }>> {
  const names = Object.keys(steps) as K[];
  const times = new Map<K, number[]>(names.map((n) => [n, []]));
  const cpu = new Map<K, number>(names.map((n) => [n, 0]));
  const results = new Map<K, number>(names.map((n) => [n, 0]));
  for (let i = 0; i < count; i++) {
    for (const name of names) {
      const cpuStart = cpuMsNow();
      const started = performance.now();
      const result = await steps[name](i);
      times.get(name)!.push(performance.now() - started);
      cpu.set(name, cpu.get(name)! + cpuMsNow() - cpuStart);
      results.set(name, results.get(name)! + result);
    }
  }
  const out = {} as Record<K, StageCost & { meanResult: number }>;
  for (const name of names) {
    out[name] = { msPerFrame: round3(median(times.get(name)!)), cpuMsPerFrame: round3(cpu.get(name)! / count), meanResult: results.get(name)! / count };
  }
  return out;
}

/** Runs `step` `count` times with `concurrency` calls in flight; frames per second. */
async function parallel(count: number, concurrency: number, step: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    for (let i = next++; i < count; i = next++) await step(i);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return Math.round((count * 1000) / (performance.now() - started));
}

/** From the Start Of Scan marker on: the coded picture, without header segments. */
function scanData(jpeg: Buffer): Buffer {
  const sos = jpeg.indexOf(Buffer.from([0xff, 0xda]));
  return sos < 0 ? jpeg : jpeg.subarray(sos);
}

async function readFrames(source: OpenCvSource, count: number): Promise<RawFrame[]> {
  const frames: RawFrame[] = [];
  for (let i = 0; i < count; i++) {
    const frame = await source.read();
    if (!frame) throw new Error('the bench clip ended early');
    // Kept past the next read, so not released: the source must not reuse its buffer.
    frames.push(frame);
  }
  return frames;
}

/** zerocam's capture (read, convert, hand over) against OpenCV's bare read of the same clip. */
async function readCosts(cv: OpenCv, clip: Clip, count: number): Promise<{ capture: StageCost; decode: StageCost }> {
  const source = OpenCvSource.openFile(clip.path, true);
  const capture = new cv.VideoCapture(clip.path);
  try {
    const steps = {
      capture: async (): Promise<number> => {
        const frame = await source.read();
        if (!frame) throw new Error('the bench clip ended early');
        frame.release?.();
        return 0;
      },
      decode: async (): Promise<number> => {
        let mat = await capture.readAsync();
        if (mat.empty) {
          capture.set(cv.CAP_PROP_POS_FRAMES, 0);
          mat = await capture.readAsync();
        }
        mat.release();
        return 0;
      },
    };
    await interleaved(10, steps);
    const costs = await interleaved(count, steps);
    return { capture: stageCost(costs.capture), decode: stageCost(costs.decode) };
  } finally {
    source.close();
    capture.release();
  }
}

function stageCost({ msPerFrame, cpuMsPerFrame }: StageCost): StageCost {
  return { msPerFrame, cpuMsPerFrame };
}

function encoderCost(cost: StageCost & { meanResult: number }): EncoderCost {
  return { ...stageCost(cost), fps: Math.round(1000 / cost.msPerFrame), meanBytes: Math.round(cost.meanResult) };
}

/**
 * The limits the pipeline is judged against, measured in this process one call at a time on the
 * bench clip: what reading a frame costs, and what encoding it costs with sharp (zerocam's
 * settings and the other Huffman choice) and with cv.imencode, on one core and on all of them.
 */
export async function measureEncodeCeiling(clip: Clip, count: number): Promise<EncodeCeiling> {
  const cv = loadOpenCv();
  const cores = availableParallelism();
  const foreign = new ForeignLoad([process.pid]);
  // Reads are cheap, and a handful of them is too few to average out a JIT compile.
  const { capture, decode } = await readCosts(cv, clip, Math.max(60, count));

  const source = OpenCvSource.openFile(clip.path, true);
  let frames: RawFrame[];
  try {
    frames = await readFrames(source, Math.min(count, clip.frames));
  } finally {
    source.close();
  }
  const frame = (i: number): RawFrame => frames[i % frames.length]!;
  const mats: Mat[] = frames.map((f) => new cv.Mat(f.pixels, f.height, f.width, cv.CV_8UC3).cvtColor(cv.COLOR_RGB2BGR));
  const mat = (i: number): Mat => mats[i % mats.length]!;
  const settings: JpegSettings = { quality: DEFAULTS.quality, optimiseCoding: DEFAULTS.jpegOptimiseCoding };
  const zerocam = new SharpJpegEncoder(settings);
  const other = new SharpJpegEncoder({ ...settings, optimiseCoding: !settings.optimiseCoding });
  const flags = [cv.IMWRITE_JPEG_QUALITY, settings.quality];
  const steps = {
    sharp: async (i: number) => (await zerocam.encode(frame(i))).jpeg.length,
    imencode: (i: number) => cv.imencode('.jpg', mat(i), flags).length,
    other: async (i: number) => (await other.encode(frame(i))).jpeg.length,
    passThrough: async (i: number) => {
      const { pixels, width, height } = frame(i);
      return (await sharpLibrary(pixels, { raw: { width, height, channels: 3 } }).raw().toBuffer()).length;
    },
  };
  await interleaved(5, steps);
  const costs = await interleaved(count, steps);
  const sharpParallelFps = await parallel(count, cores, (i) => zerocam.encode(frame(i)));
  const imencodeParallelFps = await parallel(count, cores, (i) => cv.imencodeAsync('.jpg', mat(i), flags));

  const fromSharp = (await zerocam.encode(frames[0]!)).jpeg;
  const fromOpenCv = cv.imencode('.jpg', mats[0]!, flags);
  for (const m of mats) m.release();
  return {
    size: sizeLabel(clip),
    frames: count,
    cores,
    capture,
    decode,
    sharp: { ...encoderCost(costs.sharp), parallelFps: sharpParallelFps },
    sharpOtherCoding: { ...encoderCost(costs.other), optimiseCoding: !settings.optimiseCoding },
    sharpPassThrough: stageCost(costs.passThrough),
    imencode: { ...encoderCost(costs.imencode), parallelFps: imencodeParallelFps },
    sameScanData: scanData(fromSharp).equals(scanData(fromOpenCv)),
    sameBytes: fromSharp.equals(fromOpenCv),
    otherProcessesPercent: foreign.percent(),
  };
}
