import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { DEFAULTS } from '../common/defaults';
import { sizeLabel, type Clip } from './clip';
import { ForeignLoad } from './foreign-load';
import { LineChild } from './line-child';
import { PYTHON } from './python-reference';

/** Frames each loop encodes round and round: a second of the clip, so every process encodes the same ones. */
const LOOP_FRAMES = 30;

export interface LoopsResult {
  processes: number;
  /** Summed over the processes: each one's frames over its own wall time. */
  fps: number;
  /** CPU per encode, averaged over the processes: immune to what else shares the cores. */
  cpuMsPerFrame: number;
  meanBytes: number;
  /** Per cent of the machine's CPU time other processes used meanwhile; null off Linux. */
  otherProcessesPercent: number | null;
}

/** What the machine can encode at one size: imencode alone, in independent single-threaded processes. */
export interface IndependentCeiling {
  size: string;
  seconds: number;
  /** One Node process (cv.imencode through the addon) alone. */
  nodeOne: LoopsResult;
  /** One Node process per core, started together: the ceiling #20 judges unthrottled fps against. */
  node: LoopsResult;
  /** One Python cv2 process per core, started together, beside it. */
  python: LoopsResult;
}

interface LoopReport {
  frames: number;
  wallMs: number;
  cpuMs: number;
  meanBytes: number;
}

/** Single-threaded, whatever the library would choose: OpenCV's parallel loops, OpenMP, libuv's pool. */
const ONE_THREAD: NodeJS.ProcessEnv = { OPENCV_FOR_THREADS_NUM: '1', OMP_NUM_THREADS: '1', UV_THREADPOOL_SIZE: '1', OPENCV_LOG_LEVEL: 'ERROR' };

async function runLoops(command: string, script: string, processes: number, clip: Clip, seconds: number): Promise<LoopsResult> {
  const args = [script, clip.path, String(LOOP_FRAMES), String(seconds), String(DEFAULTS.quality)];
  const loops = Array.from({ length: processes }, () => new LineChild(command, args, ONE_THREAD));
  try {
    for (const loop of loops) {
      const ready = await loop.line();
      if (ready !== 'ready') throw new Error(`${script} said "${ready}" instead of ready`);
    }
    const foreign = new ForeignLoad([process.pid, ...loops.map((l) => l.pid)]);
    // All ready before any starts: each has read and converted its frames, so they encode side by side.
    for (const loop of loops) loop.send('go');
    const reports = await Promise.all(loops.map((l) => l.json<LoopReport>()));
    const frames = reports.reduce((sum, r) => sum + r.frames, 0);
    return {
      processes,
      fps: Math.round(reports.reduce((sum, r) => sum + (r.frames * 1000) / r.wallMs, 0)),
      cpuMsPerFrame: Math.round((reports.reduce((sum, r) => sum + r.cpuMs, 0) / Math.max(1, frames)) * 1000) / 1000,
      meanBytes: Math.round(reports.reduce((sum, r) => sum + r.meanBytes * r.frames, 0) / Math.max(1, frames)),
      otherProcessesPercent: foreign.percent(),
    };
  } finally {
    await Promise.all(loops.map((l) => l.stop()));
  }
}

/**
 * The encode ceiling as #20 defines it: one imencode loop (quality DEFAULTS.quality, single-threaded)
 * per core, in independent processes on the same frames of the bench's clip, started together; summed fps.
 */
export async function measureIndependentCeiling(clip: Clip, seconds: number): Promise<IndependentCeiling> {
  const cores = availableParallelism();
  const node = [process.execPath, join(__dirname, 'imencode-loop.js')] as const;
  const python = join(__dirname, '..', '..', 'bench', 'python-imencode-loop.py');
  return {
    size: sizeLabel(clip),
    seconds,
    nodeOne: await runLoops(node[0], node[1], 1, clip, seconds),
    node: await runLoops(node[0], node[1], cores, clip, seconds),
    python: await runLoops(PYTHON, python, cores, clip, seconds),
  };
}
