/**
 * One single-threaded imencode loop, for the ceiling of #20: N of these, one per core, in
 * independent processes on the same frames, are what the machine can encode. Driven by
 * bench/independent-ceiling.ts over stdin/stdout, like its Python twin bench/python-imencode-loop.py:
 *
 *   imencode-loop.js CLIP FRAMES SECONDS QUALITY   reads FRAMES frames, prints "ready"; on a "go" line
 *                                                  encodes them round and round for SECONDS, prints JSON
 */
import { createInterface } from 'node:readline';
import { loadOpenCv } from '../common/opencv-loader';

async function main(clip: string, count: number, seconds: number, quality: number): Promise<void> {
  const cv = loadOpenCv();
  // OpenCV's own parallel loops (colour conversion; imencode has none) stay on this thread.
  cv.setNumThreads(1);
  const capture = new cv.VideoCapture(clip);
  const frames = Array.from({ length: count }, () => capture.read());
  capture.release();
  if (frames.some((m) => m.empty)) throw new Error(`${clip} has fewer than ${count} frames`);
  const flags = [cv.IMWRITE_JPEG_QUALITY, quality];
  // Warm up: first calls allocate libjpeg's buffers.
  for (const frame of frames.slice(0, 3)) cv.imencode('.jpg', frame, flags);
  process.stdout.write('ready\n');
  await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));

  const cpuStart = process.cpuUsage();
  const started = performance.now();
  const until = started + seconds * 1000;
  let encoded = 0;
  let bytes = 0;
  // Synchronous calls on the main thread: libuv's pool is never used, so nothing runs in parallel.
  while (performance.now() < until) {
    bytes += cv.imencode('.jpg', frames[encoded % count]!, flags).length;
    encoded++;
  }
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  process.stdout.write(`${JSON.stringify({ frames: encoded, wallMs, cpuMs: (cpu.user + cpu.system) / 1000, meanBytes: Math.round(bytes / Math.max(1, encoded)) })}\n`);
  for (const frame of frames) frame.release();
}

const [clip, count, seconds, quality] = process.argv.slice(2);
main(clip!, Number(count), Number(seconds), Number(quality)).catch((error: unknown) => {
  process.stderr.write(`imencode-loop: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
