import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sizeLabel, type Clip } from './clip';

const run = promisify(execFile);

/** Debian's interpreter, which has python3-opencv and python3-zmq (the pyenv python3 on PATH may not). */
export const PYTHON = '/usr/bin/python3';
const SCRIPT = join(__dirname, '..', '..', 'bench', 'python-reference.py');

export interface PythonReferenceRun {
  size: string;
  /** 0 = unthrottled. */
  pacedFps: number;
  senderFps: number;
  /** The loop's process (read, stamp, imencode, send_multipart), after warm-up. */
  senderCpuMsPerFrame: number;
  receiver: { frames: number; fps: number; latencyMs: { p50: number; p95: number; p99: number }; cpuMsPerFrame: number };
}

/**
 * One run of the loop imagezmq users write (bench/python-reference.py) on the same clip, over
 * PUB/SUB on tcp loopback: the reference every Speed II target is a ratio to.
 */
export async function runPythonReference(clip: Clip, fps: number, warmupFrames: number, frames: number): Promise<PythonReferenceRun> {
  const { stdout } = await run(PYTHON, [SCRIPT, 'send', clip.path, 'tcp://127.0.0.1:*', String(fps), String(warmupFrames), String(frames)], {
    env: { ...process.env, OPENCV_LOG_LEVEL: 'ERROR' },
    maxBuffer: 1 << 20,
  });
  const result = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Omit<PythonReferenceRun, 'size' | 'pacedFps'>;
  return { size: sizeLabel(clip), pacedFps: fps, ...result };
}
