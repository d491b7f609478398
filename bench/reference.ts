/**
 * Speed II (issue #10): zerocam against the loop imagezmq users write, in the same run on the
 * same clips, plus what parallel strips, MJPEG passthrough and on-demand idling save.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as zmq from 'zeromq';
import { DEFAULTS, type EncoderName } from '../common/defaults';
import { createLogger } from '../common/log';
import { FrameStreamer } from '../sender/frame-streamer';
import { CLIP_FPS, CLIP_NOISE, CLIP_SECONDS, sizeLabel, sizeName, type Clip, type FrameSize } from './clip';
import { CAMERA_FPS } from './latency';
import { runPipeline, type PipelineRun, type RunSettings } from './pipeline';
import { runPythonReference, type PythonReferenceRun } from './python-reference';
import { table } from './markdown-table';
import type { TargetCheck } from './targets';
import { unthrottledWarmup, type Throughput } from './throughput';
import { Worker, type SenderWorkerConfig, type SenderWorkerResult } from './worker-ipc';

const run = promisify(execFile);

export const REFERENCE_TARGETS = {
  /** zerocam's capture-to-receive p50 at 30 fps over the Python loop's, per size. */
  latencyP50Ratio: { '1280x720': 0.7, '1920x1080': 0.6 } as Record<string, number>,
  /** Unthrottled 720p fps over the Python loop's. */
  throughputRatioMin: 1.8,
  /** Sender CPU per 720p frame at 30 fps over the Python loop's. */
  senderCpuRatioMax: 1.0,
  /** --passthrough sender CPU per frame over the encoding path's, same size and pace. */
  passthroughCpuRatioMax: 0.1,
  /** A sender no one watches, per cent of one core. */
  idleCpuPercentMax: 2,
  /** From a subscriber connecting to an idle sender to its first frame, in frame intervals. */
  wakeFrameIntervalsMax: 2,
  size: '1280x720',
} as const;

export interface ReferenceComparison {
  latency: Array<{ size: string; python: PythonReferenceRun; zerocam: PipelineRun; wholeFrames: PipelineRun; otherEncoder: PipelineRun }>;
  throughput: Array<{ size: string; python: PythonReferenceRun; zerocam: Throughput; otherEncoder: PipelineRun }>;
  passthrough: { size: string; passthrough: PipelineRun; encoding: PipelineRun } | undefined;
  idle: { seconds: number; cpuMs: number; percentOfOneCore: number };
  /** An idle 30 fps sender: from a SUB socket connecting (and subscribing) to its first frame, ms. */
  wakeMs: number[];
}

export interface ReferenceInputs {
  clip: (size: FrameSize) => Clip;
  clipDir: string;
  latency: PipelineRun[];
  throughput: Throughput[];
  latencySeconds: number;
  frames: number;
  settings: RunSettings;
  progress: (message: string) => void;
}

const sizeOf = (label: string): FrameSize => {
  const [width, height] = label.split('x').map(Number);
  return { width: width!, height: height! };
};

/** The same camera-like content as the raw clips, as MJPEG: what a USB camera delivers. */
export async function makeMjpegClip(dir: string, size: FrameSize): Promise<Clip> {
  const path = join(dir, `clip-${sizeLabel(size)}-mjpeg.avi`);
  await run('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${sizeLabel(size)}:rate=${CLIP_FPS}`,
    '-vf', `noise=alls=${CLIP_NOISE}:allf=t`,
    '-t', String(CLIP_SECONDS),
    '-c:v', 'mjpeg', '-q:v', '4', '-pix_fmt', 'yuvj420p',
    path,
  ]);
  return { ...size, path, fps: CLIP_FPS, frames: CLIP_FPS * CLIP_SECONDS };
}

/** The encoder the default is compared with, in the same run: sharp when OpenCV is the default, and the other way round. */
const OTHER_ENCODER: EncoderName = DEFAULTS.encoder === 'opencv' ? 'sharp' : 'opencv';

export function cameraPaced(clip: Clip, seconds: number, settings: RunSettings, label: string, senderSettings: Pick<SenderWorkerConfig, 'strips' | 'passthrough' | 'encoder'>): Promise<PipelineRun> {
  return runPipeline({ ...settings, clip, transport: 'tcp', fps: CAMERA_FPS, warmupFrames: CAMERA_FPS, frames: Math.max(1, Math.round(seconds * CAMERA_FPS)), label, senderSettings });
}

/** CPU of a sender that no one subscribes to, over `seconds`. */
async function measureIdle(clip: Clip, seconds: number, settings: RunSettings): Promise<ReferenceComparison['idle']> {
  const config: SenderWorkerConfig = { clip: clip.path, bind: 'tcp://127.0.0.1:*', fps: CAMERA_FPS, warmupFrames: 0, frames: 1_000_000, encodeConcurrency: settings.encodeConcurrency, idleMs: seconds * 1000 };
  const worker = new Worker<SenderWorkerResult>('sender-worker', config, settings.profileDir, 'sender-idle');
  try {
    await worker.ready();
    worker.send({ type: 'go' });
    const result = await worker.result();
    await worker.close();
    const cpuMs = result.usage.cpuMs;
    return { seconds, cpuMs, percentOfOneCore: Math.round((cpuMs / (seconds * 1000)) * 10000) / 100 };
  } finally {
    worker.kill();
  }
}

/**
 * How soon an idle sender serves its first subscriber: a 30 fps sender (in this process) waits,
 * then a SUB socket connects and subscribes, and the time to its first frame is taken; `times` over.
 */
async function measureWake(clip: Clip, times: number): Promise<number[]> {
  let whenIdle: (() => void) | undefined;
  const nextIdle = (): Promise<void> => new Promise((resolve) => (whenIdle = resolve));
  let becameIdle = nextIdle();
  const sender = await FrameStreamer.open({
    source: { kind: 'file', path: clip.path },
    pattern: 'pub',
    attachment: { bind: 'tcp://127.0.0.1:*' },
    topic: 'wake',
    width: DEFAULTS.width,
    height: DEFAULTS.height,
    fps: CAMERA_FPS,
    loop: true,
    jpeg: { quality: DEFAULTS.quality, optimiseCoding: DEFAULTS.jpegOptimiseCoding },
    onIdleChange: (idle) => {
      if (idle) whenIdle?.();
    },
  }, createLogger('bench-reference', 'warn'));
  const stop = new AbortController();
  const running = sender.run(stop.signal);
  const wakeMs: number[] = [];
  try {
    for (let i = 0; i < times; i++) {
      // Each subscriber finds the sender idle: it has seen the one before leave.
      await becameIdle;
      becameIdle = nextIdle();
      const subscriber = new zmq.Subscriber({ linger: 0 });
      try {
        const started = performance.now();
        subscriber.connect(sender.endpoint);
        subscriber.subscribe('wake');
        await subscriber.receive();
        wakeMs.push(Math.round((performance.now() - started) * 100) / 100);
      } finally {
        subscriber.close();
      }
    }
  } finally {
    stop.abort();
    await running;
    sender.close();
  }
  return wakeMs;
}

export async function measureAgainstReference(inputs: ReferenceInputs): Promise<ReferenceComparison> {
  const { settings, progress, latencySeconds } = inputs;
  const paced = Math.max(1, Math.round(latencySeconds * CAMERA_FPS));
  const latency: ReferenceComparison['latency'] = [];
  for (const zerocam of inputs.latency) {
    const clip = inputs.clip(sizeOf(zerocam.size));
    progress(`python reference loop ${sizeName(clip)} at ${CAMERA_FPS} fps`);
    const python = await runPythonReference(clip, CAMERA_FPS, CAMERA_FPS, paced);
    progress(`latency ${sizeName(clip)} at ${CAMERA_FPS} fps, whole frames (--strips 1)`);
    const wholeFrames = await cameraPaced(clip, latencySeconds, settings, `${sizeName(clip)}-${CAMERA_FPS}fps-strips1`, { strips: 1 });
    progress(`latency ${sizeName(clip)} at ${CAMERA_FPS} fps, --encoder ${OTHER_ENCODER}`);
    const otherEncoder = await cameraPaced(clip, latencySeconds, settings, `${sizeName(clip)}-${CAMERA_FPS}fps-${OTHER_ENCODER}`, { encoder: OTHER_ENCODER });
    latency.push({ size: zerocam.size, python, zerocam, wholeFrames, otherEncoder });
  }
  const throughput: ReferenceComparison['throughput'] = [];
  for (const zerocam of inputs.throughput.filter((t) => t.transport === 'tcp')) {
    const clip = inputs.clip(sizeOf(zerocam.size));
    progress(`python reference loop ${sizeName(clip)} unthrottled`);
    const warmupFrames = unthrottledWarmup(inputs.frames);
    const python = await runPythonReference(clip, 0, warmupFrames, inputs.frames);
    progress(`unthrottled ${sizeName(clip)} tcp, --encoder ${OTHER_ENCODER}`);
    const otherEncoder = await runPipeline({ ...settings, clip, transport: 'tcp', fps: 0, warmupFrames, frames: inputs.frames, label: `${sizeName(clip)}-tcp-${OTHER_ENCODER}`, senderSettings: { encoder: OTHER_ENCODER } });
    throughput.push({ size: zerocam.size, python, zerocam, otherEncoder });
  }
  let passthrough: ReferenceComparison['passthrough'];
  const encoding = inputs.latency.find((r) => r.size === REFERENCE_TARGETS.size) ?? inputs.latency[0];
  if (encoding) {
    progress(`--passthrough ${sizeName(encoding.size)} MJPEG at ${CAMERA_FPS} fps`);
    const mjpeg = await makeMjpegClip(inputs.clipDir, sizeOf(encoding.size));
    passthrough = { size: encoding.size, passthrough: await cameraPaced(mjpeg, latencySeconds, settings, `${sizeName(encoding.size)}-passthrough`, { passthrough: true }), encoding };
  }
  progress('idle sender (no receivers)');
  const idleClip = inputs.clip(sizeOf(inputs.latency[0]?.size ?? REFERENCE_TARGETS.size));
  const idle = await measureIdle(idleClip, Math.max(2, Math.min(10, latencySeconds)), settings);
  progress('first frame for a new subscriber of an idle sender');
  const wakeMs = await measureWake(idleClip, 5);
  return { latency, throughput, passthrough, idle, wakeMs };
}

const r2 = (x: number): number => Math.round(x * 100) / 100;
const f2 = (x: number): string => x.toFixed(2);

export function checkReferenceTargets(ref: ReferenceComparison): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const { size, python, zerocam } of ref.latency) {
    const limit = REFERENCE_TARGETS.latencyP50Ratio[size];
    const ratio = python.receiver.latencyMs.p50 > 0 ? r2(zerocam.receiver.latencyMs.p50 / python.receiver.latencyMs.p50) : 0;
    if (limit !== undefined) checks.push({ target: `latency ${sizeName(size)} @${CAMERA_FPS} fps: zerocam p50 / Python loop p50`, measured: ratio, limit, met: ratio <= limit });
    if (size === REFERENCE_TARGETS.size) {
      const cpu = python.senderCpuMsPerFrame > 0 ? r2(zerocam.sender.usage.cpuMsPerFrame / python.senderCpuMsPerFrame) : 0;
      checks.push({ target: `sender CPU per ${sizeName(size)} frame @${CAMERA_FPS} fps: zerocam / Python loop`, measured: cpu, limit: REFERENCE_TARGETS.senderCpuRatioMax, met: cpu <= REFERENCE_TARGETS.senderCpuRatioMax });
    }
  }
  for (const { size, python, zerocam } of ref.throughput) {
    if (size !== REFERENCE_TARGETS.size) continue;
    const ratio = python.receiver.fps > 0 ? r2(zerocam.fps / python.receiver.fps) : 0;
    checks.push({ target: `unthrottled ${sizeName(size)} tcp: zerocam fps / Python loop fps`, measured: ratio, limit: REFERENCE_TARGETS.throughputRatioMin, met: ratio >= REFERENCE_TARGETS.throughputRatioMin });
  }
  if (ref.passthrough) {
    const { passthrough, encoding, size } = ref.passthrough;
    const ratio = encoding.sender.usage.cpuMsPerFrame > 0 ? r2(passthrough.sender.usage.cpuMsPerFrame / encoding.sender.usage.cpuMsPerFrame) : 0;
    checks.push({ target: `--passthrough sender CPU per ${sizeName(size)} frame / encoding path's`, measured: ratio, limit: REFERENCE_TARGETS.passthroughCpuRatioMax, met: ratio <= REFERENCE_TARGETS.passthroughCpuRatioMax });
  }
  const wakeLimit = r2((REFERENCE_TARGETS.wakeFrameIntervalsMax * 1000) / CAMERA_FPS);
  const slowestWake = Math.max(...ref.wakeMs);
  checks.push({ target: `idle ${CAMERA_FPS} fps sender: ms from subscribing to the first frame (slowest of ${ref.wakeMs.length})`, measured: slowestWake, limit: wakeLimit, met: slowestWake <= wakeLimit });
  checks.push({ target: `idle sender (no receivers), % of one core over ${ref.idle.seconds} s`, measured: ref.idle.percentOfOneCore, limit: REFERENCE_TARGETS.idleCpuPercentMax, met: ref.idle.percentOfOneCore <= REFERENCE_TARGETS.idleCpuPercentMax });
  return checks;
}

export function renderReference(ref: ReferenceComparison): string {
  const latency = table(
    ['size', 'Python loop p50 / p99 ms', 'zerocam p50 / p99 ms', 'ratio p50', 'zerocam --strips 1 p50 / p99 ms', 'ratio p50', 'sender CPU ms/frame Python / zerocam / --strips 1', `--encoder ${OTHER_ENCODER} p50 / p99 ms`, 'ratio p50', 'CPU ms/frame'],
    ref.latency.map(({ size, python, zerocam, wholeFrames, otherEncoder }) => [
      sizeName(size),
      `${f2(python.receiver.latencyMs.p50)} / ${f2(python.receiver.latencyMs.p99)}`,
      `${f2(zerocam.receiver.latencyMs.p50)} / ${f2(zerocam.receiver.latencyMs.p99)}`,
      f2(zerocam.receiver.latencyMs.p50 / Math.max(0.001, python.receiver.latencyMs.p50)),
      `${f2(wholeFrames.receiver.latencyMs.p50)} / ${f2(wholeFrames.receiver.latencyMs.p99)}`,
      f2(wholeFrames.receiver.latencyMs.p50 / Math.max(0.001, python.receiver.latencyMs.p50)),
      `${f2(python.senderCpuMsPerFrame)} / ${f2(zerocam.sender.usage.cpuMsPerFrame)} / ${f2(wholeFrames.sender.usage.cpuMsPerFrame)}`,
      `${f2(otherEncoder.receiver.latencyMs.p50)} / ${f2(otherEncoder.receiver.latencyMs.p99)}`,
      f2(otherEncoder.receiver.latencyMs.p50 / Math.max(0.001, python.receiver.latencyMs.p50)),
      f2(otherEncoder.sender.usage.cpuMsPerFrame),
    ]),
  );
  const throughput = table(
    ['size', 'Python loop fps', 'zerocam fps', 'ratio', 'sender CPU ms/frame Python / zerocam', `--encoder ${OTHER_ENCODER} fps`, 'ratio', 'CPU ms/frame'],
    ref.throughput.map(({ size, python, zerocam, otherEncoder }) => [
      sizeName(size),
      python.receiver.fps.toFixed(1),
      zerocam.fps.toFixed(1),
      f2(zerocam.fps / Math.max(0.001, python.receiver.fps)),
      `${f2(python.senderCpuMsPerFrame)} / ${f2(zerocam.run.sender.usage.cpuMsPerFrame)}`,
      otherEncoder.receiver.fps.toFixed(1),
      f2(otherEncoder.receiver.fps / Math.max(0.001, python.receiver.fps)),
      f2(otherEncoder.sender.usage.cpuMsPerFrame),
    ]),
  );
  const lines = [
    `zerocam: --encoder ${DEFAULTS.encoder} (the default), beside --encoder ${OTHER_ENCODER}`,
    `At a camera's pace (${CAMERA_FPS} fps), capture to receive, tcp loopback\n${latency}`,
    `Unthrottled, tcp loopback\n${throughput}`,
  ];
  if (ref.passthrough) {
    const { passthrough, encoding, size } = ref.passthrough;
    lines.push(
      `--passthrough on an MJPEG clip of the same content, ${sizeName(size)} at ${CAMERA_FPS} fps\n${table(
        ['path', 'sender CPU ms/frame', 'p50 / p99 ms', 'kB per frame'],
        [
          ['encoding (raw clip)', f2(encoding.sender.usage.cpuMsPerFrame), `${f2(encoding.receiver.latencyMs.p50)} / ${f2(encoding.receiver.latencyMs.p99)}`, (encoding.sender.meanJpegBytes / 1e3).toFixed(0)],
          ['--passthrough (MJPEG clip)', f2(passthrough.sender.usage.cpuMsPerFrame), `${f2(passthrough.receiver.latencyMs.p50)} / ${f2(passthrough.receiver.latencyMs.p99)}`, (passthrough.sender.meanJpegBytes / 1e3).toFixed(0)],
        ],
      )}`,
    );
  }
  lines.push(`Idle sender, no receivers: ${f2(ref.idle.cpuMs)} ms CPU in ${ref.idle.seconds} s = ${f2(ref.idle.percentOfOneCore)}% of one core`);
  lines.push(`A new subscriber's first frame from an idle ${CAMERA_FPS} fps sender: ${ref.wakeMs.map(f2).join(', ')} ms`);
  return lines.join('\n\n');
}
