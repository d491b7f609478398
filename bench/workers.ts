/**
 * `npm run bench -- --workers` (#18): the work path of zerocam-hub --workers, measured with real processes.
 *   scaling:    faces on 720p frames, 1 then 2 worker processes, every mode fed as fast as the hub takes frames
 *   work path:  what dispatch and result return add to the processing time, and the hub's CPU per frame
 *   fast/slow:  one fast and one slow (200 ms) worker, live and every against the seeds' PUSH/PULL pipeline:
 *               each worker's share, the age of results, and the frames lost when the slow one is killed
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import * as zmq from 'zeromq';
import { nowMicros } from '../common/clock';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { decodeResult } from '../common/wire/result-protocol';
import { encodeFrame, encodeTopic, type FrameHeader } from '../common/wire/protocol';
import { cameraLikeJpeg } from './hub';
import { table } from './markdown-table';
import { nodeCommand } from '../test/helpers/cli-process';

const DIST = join(__dirname, '..');
const REPO = join(DIST, '..');
const BRIGHTNESS = join(REPO, 'worker', 'examples', 'brightness.mjs');
const FPS = 30;
const SLOW_MS = 200;
/** --profile DIR: the hub runs with node --cpu-prof, its profiles written there. */
let hubProfileDir: string | undefined;

type Json = Record<string, unknown>;

class Child {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  private waiters: Array<{ match: (line: string, r: Json | undefined) => boolean; resolve: (r: Json) => void }> = [];
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;

  constructor(script: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    const profile = script === 'hub/cli.js' && hubProfileDir ? ['--cpu-prof', '--cpu-prof-dir', hubProfileDir] : [];
    const [node, ...program] = nodeCommand(join(DIST, script));
    this.child = spawn(node, [...profile, ...program, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    for (const stream of [this.child.stdout, this.child.stderr]) createInterface({ input: stream }).on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => this.child.on('exit', () => resolve()));
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The first JSON line (stats on stdout, logs on stderr) that satisfies `match`, seen or to come. */
  json(match: (r: Json) => boolean): Promise<Json> {
    return this.wait((_, record) => record !== undefined && match(record));
  }

  line(text: string): Promise<Json> {
    return this.wait((line) => line === text);
  }

  private wait(match: (line: string, r: Json | undefined) => boolean): Promise<Json> {
    for (const line of this.lines) {
      const record = parse(line);
      if (match(line, record)) return Promise.resolve(record ?? {});
    }
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  /** SIGTERM lets a profiled hub write its profile; the programs exit within a second of it. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    await this.exited;
  }

  private onLine(line: string): void {
    this.lines.push(line);
    if (this.lines.length > 2000) this.lines.splice(0, 1000);
    const record = parse(line);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(line, record)) return true;
      w.resolve(record ?? {});
      return false;
    });
  }
}

function parse(line: string): Json | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Json;
  } catch {
    return undefined;
  }
}

async function drain(socket: zmq.Subscriber): Promise<void> {
  try {
    for await (const _ of socket) void _;
  } catch (error) {
    if (!socket.closed) throw error;
  }
}

/** A process's CPU time so far, ms (Linux /proc, 10 ms ticks). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Hub {
  child: Child;
  senders: string;
  receivers: string;
  workers: string;
  results: string;
}

async function startHub(dir: string, args: readonly string[], children: Child[]): Promise<Hub> {
  const ipc = (name: string): string => `ipc://${join(dir, `${name}-${children.length}.sock`)}`;
  const child = new Child('hub/cli.js', ['--senders', ipc('s'), '--receivers', ipc('r'), ...args.flatMap((a) => (a === '@workers' ? ['--workers', ipc('w'), '--results', ipc('res')] : [a]))]);
  children.push(child);
  const forwarding = await child.json((r) => r.event === 'forwarding');
  const working = args.includes('@workers') ? await child.json((r) => r.event === 'working') : {};
  return { child, senders: String(forwarding.senders), receivers: String(forwarding.receivers), workers: String(working.workers), results: String(working.results) };
}

async function startWorker(hub: Hub, name: string, processor: string, env: NodeJS.ProcessEnv, children: Child[]): Promise<Child> {
  const child = new Child('worker/cli.js', ['--connect', hub.workers, '--processor', processor, '--name', name, '--no-stats'], env);
  children.push(child);
  await hub.child.json((r) => r.event === 'worker-joined' && r.worker === name);
  return child;
}

/** Sends one JPEG as a stream of frames: PUB/PUSH paced at `fps`, or REQ (each frame waits for its OK; fps 0: at once). */
class Feeder {
  sent = 0;
  private stopped = false;
  private readonly topic = encodeTopic('bench');
  private readonly session = nowMicros();

  constructor(
    private readonly socket: zmq.Publisher | zmq.Push | zmq.Request,
    private readonly jpeg: Buffer,
    private readonly size: { width: number; height: number },
  ) {}

  async run(fps: number): Promise<void> {
    const start = performance.now();
    while (!this.stopped) {
      const now = nowMicros();
      const header: FrameHeader = { session: this.session, seq: this.sent, captureUs: now, sendUs: now, codec: 'jpeg', quality: 80, ...this.size };
      await this.socket.send(encodeFrame(this.topic, header, this.jpeg));
      if (this.socket instanceof zmq.Request) await this.socket.receive();
      this.sent++;
      if (fps > 0) {
        const due = start + (this.sent * 1000) / fps;
        await sleep(Math.max(0, due - performance.now()));
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }
}

interface Received {
  seq: number;
  worker: string;
  ageMs: number;
  processingMs: number;
  atMs: number;
}

/** Results as they reach a receiver: from the hub's --results (SUB), or the pipeline's sink (PULL). */
class Sink {
  readonly results: Received[] = [];
  constructor(private readonly socket: zmq.Subscriber | zmq.Pull) {}

  async run(): Promise<void> {
    try {
      for await (const parts of this.socket) {
        const atMs = performance.now();
        if (this.socket instanceof zmq.Subscriber) {
          const { header } = decodeResult(parts, { maxFrameBytes: 1 << 26 });
          this.results.push({ seq: header.seq, worker: header.worker, ageMs: (nowMicros() - header.captureUs) / 1000, processingMs: header.processingMs, atMs });
        } else {
          const [seq, captureUs, worker, ms] = parts.map((p) => p.toString());
          this.results.push({ seq: Number(seq), worker: worker!, ageMs: (nowMicros() - Number(captureUs)) / 1000, processingMs: Number(ms), atMs });
        }
      }
    } catch (error) {
      if (!this.socket.closed) throw error;
    }
  }
}

export interface ScalingRun {
  workers: number;
  resultsPerSecond: number;
  processingP50Ms: number;
}

export interface FastSlowRun {
  mode: 'live' | 'every' | 'pipeline';
  sent: number;
  results: number;
  share: Record<string, number>;
  ageMs: Record<string, { p50: number; p99: number; max: number }>;
  processingP50Ms: Record<string, number>;
  /** Frames sent before the kill that never got a result (live: frames the slow worker held). */
  lostOnKill: number;
  /** Sent frames with no result at all, skipped ones included (live skips by design). */
  unanswered: number;
}

export interface WorkersBench {
  size: string;
  jpegBytes: number;
  scaling: ScalingRun[];
  speedup: number;
  workPath: { overheadP50Ms: number; overheadP99Ms: number; processingP50Ms: number; hubCpuMsPerFrame: number; hubCpuMsPerFrameWithoutWorkers: number; fps: number; frames: number };
  fastSlow: FastSlowRun[];
}

const SIZE = { width: 1280, height: 720 };

export async function measureWorkers(options: { seconds: number; progress: (message: string) => void; profileDir?: string | undefined }): Promise<WorkersBench> {
  hubProfileDir = options.profileDir;
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-workers-'));
  const children: Child[] = [];
  const jpeg = await cameraLikeJpeg();
  const stopAll = async (): Promise<void> => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
  };
  try {
    const scaling: ScalingRun[] = [];
    for (const n of [1, 2]) {
      options.progress(`workers: faces at 720p with ${n} worker process${n > 1 ? 'es' : ''} for ${options.seconds} s`);
      scaling.push(await scalingRun(dir, jpeg, n, options.seconds, children));
      await stopAll();
    }
    options.progress(`workers: the work path's own cost, a no-op processor at 100 fps for ${options.seconds} s`);
    const workPath = await workPathRun(dir, jpeg, options.seconds, children);
    await stopAll();
    const fastSlow: FastSlowRun[] = [];
    for (const mode of ['live', 'every', 'pipeline'] as const) {
      options.progress(`workers: one fast and one ${SLOW_MS} ms worker, ${mode}, ${FPS} fps, the slow one killed half way`);
      fastSlow.push(await fastSlowRun(dir, jpeg, mode, options.seconds, children));
      await stopAll();
    }
    return {
      size: `${SIZE.width}x${SIZE.height}`,
      jpegBytes: jpeg.length,
      scaling,
      speedup: Math.round(((scaling[1]?.resultsPerSecond ?? 0) / Math.max(1e-9, scaling[0]?.resultsPerSecond ?? 0)) * 100) / 100,
      workPath,
      fastSlow,
    };
  } finally {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
  }
}

async function scalingRun(dir: string, jpeg: Buffer, workers: number, seconds: number, children: Child[]): Promise<ScalingRun> {
  const hub = await startHub(dir, ['@workers', '--sender-pattern', 'req', '--work-mode', 'every', '--work-queue', '8'], children);
  for (let i = 0; i < workers; i++) await startWorker(hub, `faces${i}`, 'faces', {}, children);
  const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 100_000 });
  sub.connect(hub.results);
  sub.subscribe();
  await hub.child.json((r) => r.event === 'results-subscribed');
  const sink = new Sink(sub);
  void sink.run();
  const req = new zmq.Request({ linger: 0 });
  req.connect(hub.senders);
  const feeder = new Feeder(req, jpeg, SIZE);
  const feeding = feeder.run(0);
  await sleep(2000);
  const from = sink.results.length;
  const startMs = performance.now();
  await sleep(seconds * 1000);
  const measured = sink.results.slice(from);
  const elapsed = (performance.now() - startMs) / 1000;
  feeder.stop();
  sub.close();
  req.close();
  await feeding.catch(() => undefined);
  const processing = new LatencyHistogram();
  for (const r of measured) processing.recordMicros(r.processingMs * 1000);
  return { workers, resultsPerSecond: Math.round((measured.length / elapsed) * 10) / 10, processingP50Ms: processing.percentilesMs().p50 };
}

async function workPathRun(dir: string, jpeg: Buffer, seconds: number, children: Child[]): Promise<WorkersBench['workPath']> {
  const noop = join(dir, 'noop.mjs');
  await writeFile(noop, 'export default async function noop() { return { result: {} }; }\n');
  const fps = 100;
  const hubCost = async (withWorkers: boolean): Promise<{ cpuPerFrame: number; work: Json; frames: number }> => {
    const hub = await startHub(dir, withWorkers ? ['@workers'] : [], children);
    if (withWorkers) await startWorker(hub, 'noop', noop, {}, children);
    const pub = new zmq.Publisher({ linger: 0, sendHighWaterMark: 4 });
    pub.connect(hub.senders);
    // Without workers something must subscribe, or the hub asks its senders for nothing: a receiver that takes every frame.
    const sub = withWorkers ? undefined : new zmq.Subscriber({ linger: 0 });
    if (sub) {
      sub.connect(hub.receivers);
      sub.subscribe();
      void drain(sub);
    }
    await sleep(500);
    const feeder = new Feeder(pub, jpeg, SIZE);
    const feeding = feeder.run(fps);
    await sleep(1500);
    const framesOf = (r: Json): number => Number(withWorkers ? (r.work as Json).dispatched : r.frames);
    const first = await hub.child.json((r) => 'frames' in r && framesOf(r) > 0);
    const cpu0 = cpuMs(hub.child.pid);
    const frames0 = framesOf(first);
    await sleep(seconds * 1000);
    const lastLine = [...hub.child.lines].reverse().find((l) => l.startsWith('{"frames"'));
    const last = parse(lastLine ?? '{}') ?? {};
    const cpu1 = cpuMs(hub.child.pid);
    feeder.stop();
    await feeding;
    pub.close();
    sub?.close();
    const frames = framesOf(last) - frames0;
    return { cpuPerFrame: Math.round(((cpu1 - cpu0) / Math.max(1, frames)) * 1000) / 1000, work: (last.work as Json | undefined) ?? {}, frames };
  };
  const without = await hubCost(false);
  await Promise.all(children.splice(0).map((c) => c.stop()));
  const withWork = await hubCost(true);
  const overhead = withWork.work.overheadMs as { p50: number; p99: number };
  const processing = withWork.work.processingMs as { p50: number };
  return {
    overheadP50Ms: overhead.p50,
    overheadP99Ms: overhead.p99,
    processingP50Ms: processing.p50,
    hubCpuMsPerFrame: withWork.cpuPerFrame,
    hubCpuMsPerFrameWithoutWorkers: without.cpuPerFrame,
    fps,
    frames: withWork.frames,
  };
}

async function fastSlowRun(dir: string, jpeg: Buffer, mode: FastSlowRun['mode'], seconds: number, children: Child[]): Promise<FastSlowRun> {
  const slowEnv = { BRIGHTNESS_DELAY_MS: String(SLOW_MS) };
  let sinkSocket: zmq.Subscriber | zmq.Pull;
  let feedSocket: zmq.Publisher | zmq.Push | zmq.Request;
  let slow: Child;
  let hub: Hub;
  if (mode === 'pipeline') {
    hub = await startHub(dir, ['--pattern', 'pipeline'], children);
    const pull = new zmq.Pull({ linger: 0, receiveHighWaterMark: 100_000 });
    const sinkEndpoint = `ipc://${join(dir, `sink-${children.length}.sock`)}`;
    await pull.bind(sinkEndpoint);
    sinkSocket = pull;
    const start = (name: string, env: NodeJS.ProcessEnv): Promise<Child> => {
      const child = new Child('bench/pull-worker.js', [hub.receivers, sinkEndpoint, name, BRIGHTNESS], env);
      children.push(child);
      return child.line('ready').then(() => child);
    };
    await start('fast', {});
    slow = await start('slow', slowEnv);
    feedSocket = new zmq.Push({ linger: 0, sendHighWaterMark: 1, sendTimeout: 0 });
  } else {
    hub = await startHub(dir, ['@workers', ...(mode === 'every' ? ['--work-mode', 'every', '--sender-pattern', 'req'] : [])], children);
    await startWorker(hub, 'fast', BRIGHTNESS, {}, children);
    slow = await startWorker(hub, 'slow', BRIGHTNESS, slowEnv, children);
    const sub = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 100_000 });
    sub.connect(hub.results);
    sub.subscribe();
    await hub.child.json((r) => r.event === 'results-subscribed');
    sinkSocket = sub;
    feedSocket = mode === 'every' ? new zmq.Request({ linger: 0 }) : new zmq.Publisher({ linger: 0, sendHighWaterMark: 1 });
  }
  const sink = new Sink(sinkSocket);
  void sink.run();
  feedSocket.connect(hub.senders);
  await sleep(300);
  const feeder = new Feeder(feedSocket, jpeg, SIZE);
  const feeding = feeder.run(FPS).catch(() => undefined);
  await sleep((seconds * 1000) / 2);
  const sentAtKill = feeder.sent;
  await slow.stop('SIGKILL');
  await sleep((seconds * 1000) / 2);
  feeder.stop();
  await feeding;
  // Time for what is still out to come back (the slow worker is gone; the fast one answers in ms).
  await sleep(1500);
  const sent = feeder.sent;
  sinkSocket.close();
  feedSocket.close();
  const answered = new Set(sink.results.map((r) => r.seq));
  const workers = [...new Set(sink.results.map((r) => r.worker))].sort();
  const per = (worker: string): Received[] => sink.results.filter((r) => r.worker === worker);
  const ageOf = (rs: Received[]): { p50: number; p99: number; max: number } => {
    const h = new LatencyHistogram();
    for (const r of rs) h.recordMicros(r.ageMs * 1000);
    const { p50, p99 } = h.percentilesMs();
    return { p50, p99, max: Math.round(Math.max(0, ...rs.map((r) => r.ageMs)) * 10) / 10 };
  };
  let lostOnKill: number;
  if (mode === 'live') {
    const last = [...hub.child.lines].reverse().map(parse).find((r) => r?.work !== undefined);
    lostOnKill = Number((last?.work as Json | undefined)?.abandoned ?? 0);
  } else {
    lostOnKill = Array.from({ length: sentAtKill }, (_, seq) => seq).filter((seq) => !answered.has(seq)).length;
  }
  return {
    mode,
    sent,
    results: sink.results.length,
    share: Object.fromEntries(workers.map((w) => [w, Math.round((per(w).length / Math.max(1, sink.results.length)) * 1000) / 10])),
    ageMs: Object.fromEntries(workers.map((w) => [w, ageOf(per(w))])),
    processingP50Ms: Object.fromEntries(
      workers.map((w) => {
        const h = new LatencyHistogram();
        for (const r of per(w)) h.recordMicros(r.processingMs * 1000);
        return [w, h.percentilesMs().p50];
      }),
    ),
    lostOnKill,
    unanswered: sent - answered.size,
  };
}

export function renderWorkersReport(b: WorkersBench): string {
  const lines = [`## Workers (#18), ${b.size}, ${Math.round(b.jpegBytes / 1024)} KiB JPEG`, ''];
  lines.push(
    table(
      ['faces workers', 'results/s', 'processing p50 ms'],
      b.scaling.map((s) => [String(s.workers), s.resultsPerSecond.toFixed(1), s.processingP50Ms.toFixed(1)]),
    ),
    '',
    `2 workers / 1 worker: **${b.speedup}x**`,
    '',
  );
  const w = b.workPath;
  lines.push(
    `Work path (no-op processor, ${w.fps} fps, ${w.frames} frames): dispatch + result return p50 **${w.overheadP50Ms} ms** (p99 ${w.overheadP99Ms} ms) beyond processing (p50 ${w.processingP50Ms} ms);` +
      ` hub CPU **${w.hubCpuMsPerFrame} ms/frame** with a worker, ${w.hubCpuMsPerFrameWithoutWorkers} ms/frame forwarding the same frames to one receiver without workers`,
    '',
  );
  lines.push(
    table(
      ['mode', 'sent', 'results', 'share fast/slow %', 'age p50 fast/slow ms', 'age max fast/slow ms', 'processing p50 fast/slow ms', 'lost when slow killed', 'unanswered'],
      b.fastSlow.map((r) => [
        r.mode,
        String(r.sent),
        String(r.results),
        `${r.share.fast ?? 0} / ${r.share.slow ?? 0}`,
        `${r.ageMs.fast?.p50 ?? '–'} / ${r.ageMs.slow?.p50 ?? '–'}`,
        `${r.ageMs.fast?.max ?? '–'} / ${r.ageMs.slow?.max ?? '–'}`,
        `${r.processingP50Ms.fast ?? '–'} / ${r.processingP50Ms.slow ?? '–'}`,
        String(r.lostOnKill),
        String(r.unanswered),
      ]),
    ),
  );
  return `${lines.join('\n')}\n`;
}
