import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import * as zmq from 'zeromq';
import { nowMicros } from '../common/clock';
import type { RecordFormat } from '../common/defaults';
import { encodeFrame, encodeTopic } from '../common/wire/protocol';
import { cameraLikeJpeg } from './hub';
import { table } from './markdown-table';

/** The setting (#19): 8 cameras of 720p at 30 fps into one recorder, on this machine's disk. */
const STREAMS = 8;
const FPS = 30;
const WIDTH = 1280;
const HEIGHT = 720;

export interface RecorderRun {
  label: string;
  format: RecordFormat;
  fsyncIntervalMs: number;
  saveQueue: number;
  seconds: number;
  sent: number;
  saved: number;
  savedPercent: number;
  skipped: number;
  /** The recorder's CPU (user + system) per frame received, ms, from /proc. */
  cpuMsPerFrame: number;
  fsyncsPerSecond: number;
  /** Bytes the recording holds per second of 8 streams. */
  megabytesPerSecond: number;
}

export interface RecorderBench {
  streams: number;
  fps: number;
  size: string;
  jpegBytes: number;
  runs: RecorderRun[];
}

interface Config {
  label: string;
  format: RecordFormat;
  fsyncIntervalMs: number;
  saveQueue: number;
}

/** Against the old path (one fsync per frame, a frame per stream waiting), side by side, same input. */
const CONFIGS: Config[] = [
  { label: 'jpeg, an fsync per frame (the old path)', format: 'jpeg', fsyncIntervalMs: 0, saveQueue: STREAMS },
  { label: 'jpeg, group commit (defaults)', format: 'jpeg', fsyncIntervalMs: 50, saveQueue: 64 },
  { label: 'jpeg, group commit, --save-queue 256', format: 'jpeg', fsyncIntervalMs: 50, saveQueue: 256 },
  { label: 'segments, an fsync per frame', format: 'segments', fsyncIntervalMs: 0, saveQueue: STREAMS },
  { label: 'segments, group commit (defaults)', format: 'segments', fsyncIntervalMs: 50, saveQueue: 64 },
];

function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function measure(config: Config, jpeg: Buffer, seconds: number): Promise<RecorderRun> {
  const ticks = Math.round(seconds * FPS);
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-rec-'));
  const statsFile = join(dir, 'stats.json');
  const out = join(dir, 'out');
  const child = spawn(
    process.execPath,
    [
      join(__dirname, '..', 'receiver', 'cli.js'),
      ...['--pattern', 'pull', '--bind', 'tcp://127.0.0.1:*', '--out', out, '--format', config.format],
      ...['--fsync-interval', String(config.fsyncIntervalMs), '--save-queue', String(config.saveQueue), '--stats-json', statsFile, '--no-stats'],
      // It stops by itself once every frame sent has arrived, after saving what it queued.
      ...['--frames', String(ticks * STREAMS)],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ZEROCAM_LOG_LEVEL: 'info' } },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const endpoint = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the recorder exited (${code}) before it was ready`)));
      createInterface({ input: child.stderr }).on('line', (line) => {
        if (line.includes('"receiving"')) resolve((JSON.parse(line) as { endpoint: string }).endpoint);
      });
    });
    // One PUSH per camera, as cameras are separate hosts; a frame no queue has room for is lost, and counted.
    const pushes = Array.from({ length: STREAMS }, () => new zmq.Push({ linger: 0, sendHighWaterMark: 2, sendTimeout: 0 }));
    for (const push of pushes) push.connect(endpoint);
    const topics = pushes.map((_, i) => encodeTopic(`cam${i + 1}`));
    const session = nowMicros();
    let sent = 0;
    const cpuStart = cpuMsOf(child.pid!);
    const started = performance.now();
    await new Promise<void>((resolve) => {
      let seq = 0;
      const timer = setInterval(() => {
        for (const [i, push] of pushes.entries()) {
          const now = nowMicros();
          void push.send(encodeFrame(topics[i]!, { session, seq, captureUs: now, sendUs: now, width: WIDTH, height: HEIGHT, codec: 'jpeg', quality: 80 }, jpeg)).catch(() => undefined);
          sent++;
        }
        seq++;
        if (seq >= ticks) {
          clearInterval(timer);
          resolve();
        }
      }, 1000 / FPS);
    });
    const elapsedS = (performance.now() - started) / 1000;
    // Up to here: what is still queued when sending stops (at most --save-queue frames) is saved after it, uncounted.
    const cpuMs = cpuMsOf(child.pid!) - cpuStart;
    // A frame lost on the way would keep it waiting: then it is stopped, 5 s on.
    const stop = setTimeout(() => child.kill('SIGTERM'), 5000);
    await exited;
    clearTimeout(stop);
    for (const push of pushes) push.close();
    const stats = JSON.parse(await readFile(statsFile, 'utf8')) as { frames: number; saved: number; skipped: number; fsyncs: number; bytes: number };
    return {
      ...config,
      seconds: Math.round(elapsedS * 10) / 10,
      sent,
      saved: stats.saved,
      savedPercent: Math.round((stats.saved / sent) * 100_000) / 1000,
      skipped: stats.skipped,
      cpuMsPerFrame: Math.round((cpuMs / Math.max(1, stats.frames)) * 1000) / 1000,
      fsyncsPerSecond: Math.round((stats.fsyncs / elapsedS) * 10) / 10,
      megabytesPerSecond: Math.round((stats.bytes / elapsedS / 1e6) * 10) / 10,
    };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

export async function measureRecorder(options: { seconds: number; progress: (message: string) => void }): Promise<RecorderBench> {
  const jpeg = await cameraLikeJpeg();
  const runs: RecorderRun[] = [];
  for (const config of CONFIGS) {
    options.progress(`recorder: ${STREAMS} streams of 720p at ${FPS} fps for ${options.seconds} s, ${config.label}`);
    runs.push(await measure(config, jpeg, options.seconds));
  }
  return { streams: STREAMS, fps: FPS, size: `${WIDTH}x${HEIGHT}`, jpegBytes: jpeg.length, runs };
}

export function renderRecorderReport(bench: RecorderBench): string {
  const rows = bench.runs.map((r) => [r.label, `${r.savedPercent}%`, `${r.saved} of ${r.sent}`, r.skipped, r.cpuMsPerFrame.toFixed(3), r.fsyncsPerSecond, r.megabytesPerSecond]);
  return [
    `## Recorder: ${bench.streams} streams of ${bench.size} at ${bench.fps} fps (${Math.round(bench.jpegBytes / 1024)} KiB JPEGs), fsync on`,
    '',
    table(['path', 'saved', 'frames', 'skipped', 'CPU ms/frame', 'fsyncs/s', 'MB/s'], rows),
    '',
  ].join('\n');
}
