import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import sharp from 'sharp';
import * as zmq from 'zeromq';
import { nowMicros } from '../common/clock';
import { encodeFrame, encodeTopic } from '../common/wire/protocol';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { ForeignLoad } from './foreign-load';
import { LineChild } from './line-child';
import { table } from './markdown-table';
import { PYTHON } from './python-reference';
import { busiest, TARGETS20, type HubCpuFigures } from './targets';
import { nodeCommand } from '../test/helpers/cli-process';

/** The setting: 720p30, four cameras, four receivers. */
const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const CAMERAS = 4;
const RECEIVERS = 4;
const WARMUP_MS = 1000;
const RSS_SAMPLES = 20;

export interface HubLatency {
  p50: number;
  p99: number;
  frames: number;
}

/** zerocam-hub, or the Python reference: zmq.proxy(XSUB, XPUB). */
export type HubKind = 'zerocam' | 'python-proxy';

export interface HubBench {
  size: string;
  jpegBytes: number;
  cameras: number;
  fps: number;
  /** Send-to-receive latency, ms, four receivers each getting every camera. */
  direct: HubLatency;
  viaHub: HubLatency;
  addedP50Ms: number;
  addedP99Ms: number;
  /** Hub CPU (user + system) per forwarded frame, ms, with one and with four receivers. */
  cpuMsPerFrame: HubCpuFigures;
  /** The same of bench/python-hub.py, pyzmq's zmq.proxy(XSUB, XPUB), measured the same way in the same run. */
  pythonProxyCpuMsPerFrame: HubCpuFigures;
  rss: { frames: number; startBytes: number; endBytes: number; growthPercent: number };
}

/** A camera-like 720p JPEG: smooth gradients with fine detail, about the size a real scene encodes to. */
export async function cameraLikeJpeg(): Promise<Buffer> {
  const pixels = Buffer.alloc(WIDTH * HEIGHT * 3);
  let noise = 12345;
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) {
      noise = (noise * 1103515245 + 12345) & 0x7fffffff;
      const i = (y * WIDTH + x) * 3;
      pixels[i] = (x * 255) / WIDTH + (noise & 15);
      pixels[i + 1] = (y * 255) / HEIGHT + ((noise >> 4) & 15);
      pixels[i + 2] = ((x ^ y) & 0xff) / 2 + ((noise >> 8) & 15);
    }
  }
  return sharp(pixels, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } }).jpeg({ quality: 80 }).toBuffer();
}

type HubProcess = ChildProcessByStdio<null, Readable, Readable>;

interface RunningHub {
  pid: number;
  senders: string;
  receivers: string;
  stop(): Promise<void>;
}

const PYTHON_HUB = join(__dirname, '..', '..', 'bench', 'python-hub.py');

async function startHub(kind: HubKind = 'zerocam'): Promise<RunningHub> {
  if (kind === 'python-proxy') {
    const child = new LineChild(PYTHON, [PYTHON_HUB]);
    try {
      const endpoints = await child.json<{ senders: string; receivers: string }>();
      return { pid: child.pid, ...endpoints, stop: () => child.stop() };
    } catch (error) {
      await child.stop();
      throw error;
    }
  }
  const { child, senders, receivers } = await startZerocamHub();
  return { pid: child.pid!, senders, receivers, stop: () => stopHub(child) };
}

async function startZerocamHub(): Promise<{ child: HubProcess; senders: string; receivers: string }> {
  const [node, ...hub] = nodeCommand(join(__dirname, '..', 'hub', 'cli.js'));
  const child = spawn(node, [...hub, '--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', '--no-stats'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ZEROCAM_LOG_LEVEL: 'info' },
  });
  const lines = createInterface({ input: child.stderr });
  const record = await new Promise<{ senders: string; receivers: string }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the hub exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      if (!line.includes('"forwarding"')) return;
      const parsed = JSON.parse(line) as { senders: string; receivers: string };
      resolve(parsed);
    });
  });
  return { child, ...record };
}

async function stopHub(child: HubProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** The process's CPU time so far (user + system), ms, from /proc: the hub cannot measure itself without costing CPU. */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the command name), in clock ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) * 1024;
}

interface Fleet {
  /** Frames sent so far, all cameras together. */
  sent: number;
  latency: LatencyHistogram;
  measuring: boolean;
  stop(): Promise<void>;
}

/**
 * Four cameras at 30 fps (PUB) and `receivers` SUB sockets that take every stream, all in this
 * process, sending the same JPEG with a fresh header each time: the hub's cost is forwarding, and
 * the cameras' encode cost would only add noise on a small machine.
 */
async function runFleet(jpeg: Buffer, attach: { bindSenders: boolean; senders: string[]; receiverEndpoints: string[] }, receivers: number): Promise<Fleet> {
  const publishers = Array.from({ length: CAMERAS }, () => new zmq.Publisher({ linger: 0, sendHighWaterMark: 2 }));
  const subscribers = Array.from({ length: receivers }, () => new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 2 }));
  const bound: string[] = [];
  for (const publisher of publishers) {
    if (attach.bindSenders) {
      await publisher.bind('tcp://127.0.0.1:*');
      bound.push(publisher.lastEndpoint!);
    } else {
      publisher.connect(attach.senders[0]!);
    }
  }
  const receiverEndpoints = attach.bindSenders ? bound : attach.receiverEndpoints;
  const fleet: Fleet = { sent: 0, latency: new LatencyHistogram(), measuring: false, stop: () => Promise.resolve() };
  const receiving = subscribers.map(async (subscriber) => {
    for (const endpoint of receiverEndpoints) subscriber.connect(endpoint);
    subscriber.subscribe();
    for await (const [, header] of subscriber) {
      if (fleet.measuring && header) fleet.latency.recordMicros(nowMicros() - Number(header.readBigUInt64LE(40)));
    }
  });
  const topics = publishers.map((_, i) => encodeTopic(`cam${i + 1}`));
  const session = nowMicros();
  let seq = 0;
  const timer = setInterval(() => {
    seq++;
    for (const [i, publisher] of publishers.entries()) {
      const now = nowMicros();
      void publisher.send(encodeFrame(topics[i]!, { session, seq, captureUs: now, sendUs: now, width: WIDTH, height: HEIGHT, codec: 'jpeg', quality: 80 }, jpeg)).catch(() => undefined);
      fleet.sent++;
    }
  }, 1000 / FPS);
  fleet.stop = async () => {
    clearInterval(timer);
    for (const socket of [...publishers, ...subscribers]) socket.close();
    await Promise.allSettled(receiving);
  };
  return fleet;
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function measureLatency(jpeg: Buffer, seconds: number, viaHub: boolean): Promise<HubLatency & { cpuMsPerFrame?: number }> {
  const hub = viaHub ? await startHub() : undefined;
  try {
    const fleet = await runFleet(jpeg, hub ? { bindSenders: false, senders: [hub.senders], receiverEndpoints: [hub.receivers] } : { bindSenders: true, senders: [], receiverEndpoints: [] }, RECEIVERS);
    try {
      await wait(WARMUP_MS);
      fleet.measuring = true;
      await wait(seconds * 1000);
      fleet.measuring = false;
    } finally {
      await fleet.stop();
    }
    const { p50, p99 } = fleet.latency.percentilesMs();
    return { p50, p99, frames: fleet.latency.count };
  } finally {
    if (hub) await hub.stop();
  }
}

/** Hub CPU per forwarded frame: CPU time read from /proc around a window of the run, over the frames sent in it. */
async function measureCpu(jpeg: Buffer, seconds: number, receivers: number, kind: HubKind = 'zerocam'): Promise<{ cpuMsPerFrame: number; otherProcessesPercent: number | null }> {
  const hub = await startHub(kind);
  try {
    const fleet = await runFleet(jpeg, { bindSenders: false, senders: [hub.senders], receiverEndpoints: [hub.receivers] }, receivers);
    try {
      await wait(WARMUP_MS);
      const foreign = new ForeignLoad([process.pid, hub.pid]);
      const cpuStart = cpuMsOf(hub.pid);
      const sentStart = fleet.sent;
      await wait(seconds * 1000);
      const cpuMsPerFrame = Math.round(((cpuMsOf(hub.pid) - cpuStart) / Math.max(1, fleet.sent - sentStart)) * 1000) / 1000;
      return { cpuMsPerFrame, otherProcessesPercent: foreign.percent() };
    } finally {
      await fleet.stop();
    }
  } finally {
    await hub.stop();
  }
}

/**
 * zerocam-hub's CPU per forwarded frame and the Python proxy's, with one and with four receivers,
 * one after the other in this run; the ratio of the two is #20's hub target.
 */
export async function measureHubCpu(seconds: number, progress: (message: string) => void): Promise<{ zerocam: HubCpuFigures; pythonProxy: HubCpuFigures }> {
  const jpeg = await cameraLikeJpeg();
  const measure = async (kind: HubKind): Promise<HubCpuFigures> => {
    progress(`hub: ${kind === 'zerocam' ? 'zerocam-hub' : 'Python zmq.proxy(XSUB, XPUB)'} CPU per frame, ${CAMERAS} cameras at 720p${FPS}, with 1 and with ${RECEIVERS} receivers, ${seconds} s each`);
    const one = await measureCpu(jpeg, seconds, 1, kind);
    const four = await measureCpu(jpeg, seconds, RECEIVERS, kind);
    return { oneReceiver: one.cpuMsPerFrame, fourReceivers: four.cpuMsPerFrame, otherProcessesPercent: busiest(one.otherProcessesPercent, four.otherProcessesPercent) };
  };
  return { zerocam: await measure('zerocam'), pythonProxy: await measure('python-proxy') };
}

async function measureRss(jpeg: Buffer, frames: number): Promise<HubBench['rss']> {
  const hub = await startHub();
  try {
    const fleet = await runFleet(jpeg, { bindSenders: false, senders: [hub.senders], receiverEndpoints: [hub.receivers] }, RECEIVERS);
    const samples: number[] = [];
    try {
      await wait(WARMUP_MS);
      const start = fleet.sent;
      const every = Math.max(1, Math.round(frames / RSS_SAMPLES));
      while (fleet.sent - start < frames) {
        await wait(Math.max(50, (every / (CAMERAS * FPS)) * 1000));
        samples.push(rssOf(hub.pid));
      }
    } finally {
      await fleet.stop();
    }
    // RSS swings with the garbage collector's rhythm: compare the means of the first and last quarters.
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const mean = (part: number[]): number => part.reduce((sum, x) => sum + x, 0) / part.length;
    const startBytes = Math.round(mean(samples.slice(0, quarter)));
    const endBytes = Math.round(mean(samples.slice(-quarter)));
    return { frames, startBytes, endBytes, growthPercent: Math.round(((endBytes - startBytes) / startBytes) * 1000) / 10 };
  } finally {
    await hub.stop();
  }
}

/** The hub section of `npm run bench`: direct and through the hub side by side, in one run. */
export async function measureHub(options: { seconds: number; soakFrames: number; progress: (message: string) => void }): Promise<HubBench> {
  const jpeg = await cameraLikeJpeg();
  options.progress(`hub: latency without the hub, ${CAMERAS} cameras -> ${RECEIVERS} receivers at 720p${FPS}`);
  const direct = await measureLatency(jpeg, options.seconds, false);
  options.progress('hub: latency through the hub');
  const viaHub = await measureLatency(jpeg, options.seconds, true);
  const cpu = await measureHubCpu(options.seconds, options.progress);
  options.progress(`hub: RSS over ${options.soakFrames} frames`);
  const rss = await measureRss(jpeg, options.soakFrames);
  return {
    size: `${WIDTH}x${HEIGHT}`,
    jpegBytes: jpeg.length,
    cameras: CAMERAS,
    fps: FPS,
    direct,
    viaHub,
    addedP50Ms: Math.round((viaHub.p50 - direct.p50) * 1000) / 1000,
    addedP99Ms: Math.round((viaHub.p99 - direct.p99) * 1000) / 1000,
    cpuMsPerFrame: cpu.zerocam,
    pythonProxyCpuMsPerFrame: cpu.pythonProxy,
    rss,
  };
}

/** Targets from the issue: added p50 <= 0.3 ms; CPU <= 0.1 ms per frame, within ±20% from 1 to 4 receivers; RSS growth <= 5%. */
export function renderHubReport(hub: HubBench): string {
  const { oneReceiver, fourReceivers } = hub.cpuMsPerFrame;
  const python = hub.pythonProxyCpuMsPerFrame;
  const ratio = (ours: number, theirs: number): string => (theirs > 0 ? (ours / theirs).toFixed(2) : '-');
  const spread = oneReceiver > 0 ? Math.round(((fourReceivers - oneReceiver) / oneReceiver) * 1000) / 10 : 0;
  const mark = (ok: boolean): string => (ok ? 'met' : 'MISSED');
  return [
    `### Hub (${hub.cameras} cameras at ${hub.size}, ${hub.fps} fps, ${(hub.jpegBytes / 1000).toFixed(0)} kB JPEGs; ${RECEIVERS} receivers)`,
    '',
    table(
      ['', 'p50 ms', 'p99 ms', 'frames'],
      [
        ['direct (senders bind, receivers connect)', hub.direct.p50.toFixed(3), hub.direct.p99.toFixed(3), hub.direct.frames],
        ['through zerocam-hub', hub.viaHub.p50.toFixed(3), hub.viaHub.p99.toFixed(3), hub.viaHub.frames],
        ['added by the hub', hub.addedP50Ms.toFixed(3), hub.addedP99Ms.toFixed(3), ''],
      ],
    ),
    '',
    table(
      ['target', 'measured', ''],
      [
        ['added p50 <= 0.3 ms', `${hub.addedP50Ms.toFixed(3)} ms`, mark(hub.addedP50Ms <= 0.3)],
        ['hub CPU <= 0.1 ms per frame (1 receiver)', `${oneReceiver.toFixed(3)} ms`, mark(oneReceiver <= 0.1)],
        ['hub CPU <= 0.1 ms per frame (4 receivers)', `${fourReceivers.toFixed(3)} ms`, mark(fourReceivers <= 0.1)],
        ['CPU 1 -> 4 receivers within ±20%', `${spread}%`, mark(Math.abs(spread) <= 20)],
        [
          `hub CPU per frame <= ${TARGETS20.hubCpuRatioMax}x Python's zmq.proxy(XSUB, XPUB) (${python.oneReceiver.toFixed(3)} / ${python.fourReceivers.toFixed(3)} ms), 1 / ${RECEIVERS} receivers`,
          `${ratio(oneReceiver, python.oneReceiver)} / ${ratio(fourReceivers, python.fourReceivers)}x`,
          mark(oneReceiver <= TARGETS20.hubCpuRatioMax * python.oneReceiver && fourReceivers <= TARGETS20.hubCpuRatioMax * python.fourReceivers),
        ],
        [`hub RSS growth over ${hub.rss.frames} frames <= 5%`, `${hub.rss.growthPercent}% (${(hub.rss.startBytes / 1e6).toFixed(0)} -> ${(hub.rss.endBytes / 1e6).toFixed(0)} MB)`, mark(hub.rss.growthPercent <= 5)],
      ],
    ),
    '',
  ].join('\n');
}
