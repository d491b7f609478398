#!/usr/bin/env node
/**
 * `npm run bench`: zerocam's speed against the physical limits of this machine, side by side in
 * one run on the same input. Prints a table; --json FILE writes every number.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option } from 'commander';
import { createProgram, parseCommandLine, runCli } from '../common/cli/program';
import { DEFAULTS } from '../common/defaults';
import { parseIntIn, parseNumberIn } from '../common/cli/values';
import { writeSummaryFile } from '../common/stats/write-summary';
import { sizeThreadPool } from '../sender/encode/thread-pool';
import { CLIP_CODEC, CLIP_FPS, CLIP_NOISE, CLIP_SECONDS, makeClip, parseSizes, sizeLabel, sizeName, type Clip, type FrameSize } from './clip';
import { measureCurveCost, type CurveCost } from './curve-cost';
import { measureEncodeCeiling, type EncodeCeiling } from './encode-ceiling';
import { measureLatency } from './latency';
import { ForeignLoad } from './foreign-load';
import { measureHub, renderHubReport, type HubBench } from './hub';
import { measureRecorder, renderRecorderReport } from './recorder';
import { measureClockOffsets, renderClockReport } from './clock-offsets';
import { measureSlowLink, measureSlowLinkThroughHub, parseLinkRates, renderSlowLinkReport, type LinkRate } from './slow-link';
import { describeMachine } from './machine';
import type { PipelineRun, RunSettings } from './pipeline';
import { summariseProfiles } from './profile';
import { checkReferenceTargets, measureAgainstReference, type ReferenceComparison } from './reference';
import { renderReport, type BenchResults } from './report';
import { soak, type SoakResult } from './soak';
import { measureSpeed, renderSpeed, type SpeedSection } from './speed';
import { checkTargets } from './targets';
import { measureThroughput, type Throughput } from './throughput';
import { killWorkers } from './worker-ipc';
import { measureWorkers, renderWorkersReport } from './workers';

const NAME = 'zerocam-bench';
const IPC_SIZE = '1280x720';
const SOAK_SIZE: FrameSize = { width: 1280, height: 720 };
const CURVE_SIZE = '1280x720';

interface RawOptions {
  quick: boolean;
  sizes?: FrameSize[];
  latencySizes?: FrameSize[];
  frames?: number;
  encodeFrames?: number;
  latencySeconds?: number;
  soak?: number;
  ipc: boolean;
  reference: boolean;
  hub: boolean;
  curve: boolean;
  encodeConcurrency: number;
  json?: string;
  profile?: string;
  link?: LinkRate[];
  recorder: boolean;
  workers: boolean;
  clock: boolean;
  speed: boolean;
}

const MODES = {
  full: { frames: 2000, encodeFrames: 200, latencySeconds: 20, curveRounds: { messages: 500, rounds: 9 } },
  quick: { frames: 200, encodeFrames: 40, latencySeconds: 3, curveRounds: { messages: 100, rounds: 3 } },
} as const;

/** The run's start and machine, with a warning when other processes are busy enough to make the numbers noisy. */
async function beginRun(): Promise<{ startedAt: Date; machine: ReturnType<typeof describeMachine> }> {
  const startedAt = new Date();
  const machine = describeMachine();
  const others = new ForeignLoad([process.pid]);
  await sleep(500);
  const othersPercent = others.percent();
  if (othersPercent !== null && othersPercent > 10) progress(`other processes are using ${othersPercent}% of the CPU: numbers will be noisy (each table says how busy they were)`);
  return { startedAt, machine };
}

/** --speed: #20's rows alone, short enough to run after every change to the hot path. */
const SPEED_MODES = {
  full: { frames: 1500, latencySeconds: 15, hubSeconds: 10, ceilingSeconds: 5 },
  quick: { frames: 200, latencySeconds: 3, hubSeconds: 3, ceilingSeconds: 2 },
} as const;
/** The size #20 judges. */
const SPEED_SIZE: FrameSize = { width: 1280, height: 720 };

function buildProgram() {
  return createProgram(NAME, "Measure zerocam's encode cost, throughput, latency, CPU and memory against this machine's limits.")
    .addOption(new Option('--quick', 'short runs: under a minute, for CI-sized checks').default(false))
    .addOption(new Option('--sizes <list>', 'frame sizes for the encode ceiling and unthrottled runs (default 640x480,1280x720,1920x1080)').argParser(parseSizes))
    .addOption(new Option('--latency-sizes <list>', 'frame sizes for the 30 fps latency runs (default 1280x720,1920x1080)').argParser(parseSizes))
    .addOption(new Option('--frames <n>', `measured frames per unthrottled run (default ${MODES.full.frames}, quick ${MODES.quick.frames})`).argParser(parseIntIn(10, 10_000_000)))
    .addOption(new Option('--encode-frames <n>', `encodes per encode-ceiling measurement (default ${MODES.full.encodeFrames}, quick ${MODES.quick.encodeFrames})`).argParser(parseIntIn(5, 100_000)))
    .addOption(new Option('--latency-seconds <s>', `length of each 30 fps run (default ${MODES.full.latencySeconds}, quick ${MODES.quick.latencySeconds})`).argParser(parseNumberIn(0.5, 3600)))
    .addOption(new Option('--soak <frames>', 'also run 720p unthrottled for this many frames and report RSS growth (the target is judged over 20000)').argParser(parseIntIn(100, 100_000_000)))
    .addOption(new Option('--no-ipc', 'skip the ipc:// run'))
    .addOption(new Option('--no-reference', 'skip the Python reference loop, --strips 1, --passthrough and idle runs'))
    .addOption(new Option('--no-hub', 'skip the hub section (4 cameras -> hub -> 4 receivers at 720p30)'))
    .addOption(new Option('--no-curve', "skip CURVE's cost (720p at 30 fps, plaintext and encrypted)"))
    .addOption(new Option('--encode-concurrency <n>', "the sender's encodes in flight, to compare settings").argParser(parseIntIn(1, 64)).default(DEFAULTS.encodeConcurrency))
    .addOption(new Option('--json <file>', 'write every number here as JSON'))
    .addOption(new Option('--profile <dir>', 'write V8 CPU profiles of every sender and receiver here (node --cpu-prof) and summarise them'))
    .addOption(new Option('--recorder', 'run only the recorder section (#19): 8 streams of 720p30 into one recorder on this disk, jpeg and segments, group commit against an fsync per frame').default(false))
    .addOption(new Option('--workers', 'run only the workers section (#18): faces scaling, the work path\'s cost, fast and slow workers against --pattern pipeline').default(false))
    .addOption(new Option('--speed', "run only #20's rows: each speed figure beside its reference (the Python loop, a pyzmq receiver, a zmq.proxy hub, imencode on every core), about 3 minutes; --quick about a minute").default(false))
    .addOption(new Option('--clock', 'run only the clock-offset section (#21): corrected latency against a same-clock camera under libfaketime, direct, REQ/REP and through the hub').default(false))
    .addOption(new Option('--link <rates>', 'run only the slow-link scenario (#11) over links of these rates, with and without --adapt (e.g. 8mbit,20mbit; needs root)').argParser(parseLinkRates));
}

function progress(message: string): void {
  process.stderr.write(`${NAME}: ${message}\n`);
}

function unique(sizes: FrameSize[]): FrameSize[] {
  return [...new Map(sizes.map((s) => [sizeLabel(s), s])).values()];
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  signal.addEventListener('abort', killWorkers, { once: true });
  // Before anything touches libuv's pool: parallel encodes here need the sender's pool size.
  const threadPoolSize = sizeThreadPool(DEFAULTS.encodeConcurrency);
  const program = buildProgram();
  parseCommandLine(program, argv);
  const raw = program.opts<RawOptions>();
  const mode = raw.quick ? 'quick' : 'full';
  const defaults = MODES[mode];
  const sizes = raw.sizes ?? parseSizes('640x480,1280x720,1920x1080');
  const latencySizes = raw.latencySizes ?? parseSizes('1280x720,1920x1080');
  const frames = raw.frames ?? defaults.frames;
  const encodeFrames = raw.encodeFrames ?? defaults.encodeFrames;
  const latencySeconds = raw.latencySeconds ?? defaults.latencySeconds;
  const profileDir = raw.profile === undefined ? undefined : resolve(raw.profile);
  if (profileDir) await mkdir(profileDir, { recursive: true });
  const settings: RunSettings = { encodeConcurrency: raw.encodeConcurrency, profileDir };
  if (raw.link) return benchSlowLinks(raw.link, raw.quick ? 8 : 30, raw.json);
  if (raw.recorder) return benchRecorder(raw.quick ? 3 : 15, raw.json);
  if (raw.workers) {
    const workers = await measureWorkers({ seconds: raw.quick ? 3 : 10, progress, profileDir });
    process.stdout.write(renderWorkersReport(workers));
    if (raw.json) {
      await mkdir(dirname(resolve(raw.json)), { recursive: true });
      await writeSummaryFile(raw.json, { machine: describeMachine(), workers });
    }
    return 0;
  }
  if (raw.clock) return benchClock(raw.quick ? 4 : 10, raw.json);
  if (raw.speed) {
    const speedMode = SPEED_MODES[mode];
    return benchSpeed({
      size: raw.latencySizes?.[0] ?? SPEED_SIZE,
      seconds: raw.latencySeconds ?? speedMode.latencySeconds,
      frames: raw.frames ?? speedMode.frames,
      hubSeconds: speedMode.hubSeconds,
      ceilingSeconds: speedMode.ceilingSeconds,
      settings,
      json: raw.json,
    });
  }

  const { startedAt, machine } = await beginRun();
  const clipDir = await mkdtemp(join(tmpdir(), 'zc-bench-clips-'));
  try {
    const clips = new Map<string, Clip>();
    for (const size of unique([...sizes, ...latencySizes, ...(raw.soak ? [SOAK_SIZE] : [])])) {
      progress(`making a ${sizeLabel(size)} clip`);
      clips.set(sizeLabel(size), await makeClip(clipDir, size));
    }
    const clip = (size: FrameSize): Clip => clips.get(sizeLabel(size))!;

    const encodeCeiling: EncodeCeiling[] = [];
    for (const size of unique([...sizes, ...latencySizes])) {
      progress(`encode ceiling ${sizeName(size)}`);
      encodeCeiling.push(await measureEncodeCeiling(clip(size), encodeFrames));
    }
    const ceilingOf = (size: FrameSize): EncodeCeiling => encodeCeiling.find((c) => c.size === sizeLabel(size))!;

    const throughput: Throughput[] = [];
    for (const size of sizes) {
      progress(`unthrottled ${sizeName(size)} tcp`);
      throughput.push(await measureThroughput(clip(size), 'tcp', frames, ceilingOf(size), settings));
    }
    const ipcSize = sizes.find((s) => sizeLabel(s) === IPC_SIZE) ?? sizes[0];
    if (raw.ipc && ipcSize) {
      progress(`unthrottled ${sizeName(ipcSize)} ipc`);
      throughput.push(await measureThroughput(clip(ipcSize), 'ipc', frames, ceilingOf(ipcSize), settings));
    }

    const latency: PipelineRun[] = [];
    for (const size of latencySizes) {
      progress(`latency ${sizeName(size)} at 30 fps for ${latencySeconds} s`);
      latency.push(await measureLatency(clip(size), latencySeconds, settings));
    }

    let reference: ReferenceComparison | undefined;
    if (raw.reference) {
      reference = await measureAgainstReference({ clip, clipDir, latency, throughput, latencySeconds, frames, settings, progress });
    }

    let curve: CurveCost | undefined;
    const curveSize = latencySizes.find((s) => sizeLabel(s) === CURVE_SIZE) ?? latencySizes[0];
    if (raw.curve && curveSize) {
      progress(`CURVE against plaintext, ${sizeName(curveSize)} at 30 fps for ${latencySeconds} s each, then the socket path alone`);
      curve = await measureCurveCost(clip(curveSize), latencySeconds, settings, defaults.curveRounds);
    }

    let soakResult: SoakResult | undefined;
    if (raw.soak) {
      progress(`soak: ${raw.soak} frames at ${sizeName(SOAK_SIZE)}, unthrottled`);
      soakResult = await soak(clip(SOAK_SIZE), raw.soak, settings);
    }

    let hub: HubBench | undefined;
    if (raw.hub) hub = await measureHub({ seconds: latencySeconds, soakFrames: raw.quick ? 1000 : 20_000, progress });

    let speed: SpeedSection | undefined;
    const speedSize = latencySizes.find((s) => sizeLabel(s) === sizeLabel(SPEED_SIZE)) ?? latencySizes[0];
    if (speedSize) {
      const label = sizeLabel(speedSize);
      const zerocamPaced = latency.find((run) => run.size === label);
      const pythonPaced = reference?.latency.find((r) => r.size === label)?.python;
      speed = await measureSpeed({
        clip: clip(speedSize),
        clipDir,
        seconds: latencySeconds,
        frames,
        hubSeconds: latencySeconds,
        ceilingSeconds: SPEED_MODES[mode].ceilingSeconds,
        settings,
        progress,
        measured: {
          paced: zerocamPaced && pythonPaced ? { zerocam: zerocamPaced, python: pythonPaced } : undefined,
          passthrough: reference?.passthrough?.size === label ? reference.passthrough : undefined,
          hub: hub && { zerocam: hub.cpuMsPerFrame, pythonProxy: hub.pythonProxyCpuMsPerFrame },
          unthrottled: throughput.find((t) => t.size === label && t.transport === 'tcp')?.run,
        },
      });
    }

    machine.loadAverageAfter = loadavg()[0] ?? 0;
    const results: BenchResults & { hub?: HubBench | undefined; speed?: SpeedSection | undefined } = {
      startedAt: startedAt.toISOString(),
      durationS: Math.round((Date.now() - startedAt.getTime()) / 1000),
      mode,
      machine,
      settings: {
        quality: DEFAULTS.quality,
        optimiseCoding: DEFAULTS.jpegOptimiseCoding,
        encodeConcurrency: raw.encodeConcurrency,
        threadPoolSize: throughput[0]?.run.sender.threadPoolSize ?? latency[0]?.sender.threadPoolSize ?? threadPoolSize,
        clip: { codec: CLIP_CODEC, noise: CLIP_NOISE, fps: CLIP_FPS, seconds: CLIP_SECONDS },
      },
      encodeCeiling,
      throughput,
      latency,
      soak: soakResult,
      reference,
      curve,
      targets: [...checkTargets({ encodeCeiling, throughput, latency, soak: soakResult }), ...(reference ? checkReferenceTargets(reference) : [])],
      profiles: profileDir ? await summariseProfiles(profileDir) : undefined,
      hub,
      speed,
    };
    process.stdout.write(renderReport(results));
    if (hub) process.stdout.write(`\n${renderHubReport(hub)}`);
    if (speed) process.stdout.write(`\n${renderSpeed(speed)}\n`);
    if (raw.json) {
      await mkdir(dirname(resolve(raw.json)), { recursive: true });
      await writeSummaryFile(raw.json, results);
      progress(`wrote ${raw.json}`);
    }
  } finally {
    await rm(clipDir, { recursive: true, force: true });
  }
  return 0;
}

/** --speed: #20's rows alone, on one size, with what each needs and nothing else. */
async function benchSpeed(options: { size: FrameSize; seconds: number; frames: number; hubSeconds: number; ceilingSeconds: number; settings: RunSettings; json: string | undefined }): Promise<number> {
  const { startedAt, machine } = await beginRun();
  const clipDir = await mkdtemp(join(tmpdir(), 'zc-bench-clips-'));
  try {
    progress(`making a ${sizeLabel(options.size)} clip`);
    const clip = await makeClip(clipDir, options.size);
    const speed = await measureSpeed({ ...options, clip, clipDir, progress });
    machine.loadAverageAfter = loadavg()[0] ?? 0;
    const durationS = Math.round((Date.now() - startedAt.getTime()) / 1000);
    process.stdout.write(`zerocam bench --speed, ${startedAt.toISOString()}, ${durationS} s\n`);
    process.stdout.write(`Machine: ${machine.cores} cores, ${machine.cpuModel}; Node ${machine.node}, OpenCV ${machine.opencv}, libzmq ${machine.libzmq}; load average ${machine.loadAverageBefore.toFixed(2)} before, ${machine.loadAverageAfter.toFixed(2)} after\n\n`);
    process.stdout.write(`${renderSpeed(speed)}\n`);
    if (options.json) {
      await mkdir(dirname(resolve(options.json)), { recursive: true });
      await writeSummaryFile(options.json, { startedAt: startedAt.toISOString(), durationS, machine, speed });
      progress(`wrote ${options.json}`);
    }
  } finally {
    await rm(clipDir, { recursive: true, force: true });
  }
  return 0;
}

/** --recorder: the recorder section alone. */
async function benchRecorder(seconds: number, json: string | undefined): Promise<number> {
  const others = new ForeignLoad([process.pid]);
  await sleep(500);
  const othersPercent = others.percent();
  const recorder = await measureRecorder({ seconds, progress });
  process.stdout.write(renderRecorderReport(recorder));
  process.stdout.write(`\nOther processes used ${othersPercent ?? '?'}% of the CPU just before.\n`);
  if (json) {
    await mkdir(dirname(resolve(json)), { recursive: true });
    await writeSummaryFile(json, { startedAt: new Date().toISOString(), machine: describeMachine(), otherProcessesPercent: othersPercent, recorder });
    progress(`wrote ${json}`);
  }
  return 0;
}

/** --clock: the clock-offset section alone. */
async function benchClock(seconds: number, json: string | undefined): Promise<number> {
  const clock = await measureClockOffsets(seconds, progress);
  process.stdout.write(renderClockReport(clock));
  if (json) {
    await mkdir(dirname(resolve(json)), { recursive: true });
    await writeSummaryFile(json, { startedAt: new Date().toISOString(), machine: describeMachine(), clock });
    progress(`wrote ${json}`);
  }
  return 0;
}

/** --link: the slow-link scenario alone, each rate with and without --adapt and through the hub, side by side. */
async function benchSlowLinks(rates: readonly LinkRate[], seconds: number, json: string | undefined): Promise<number> {
  const clipDir = await mkdtemp(join(tmpdir(), 'zc-bench-clips-'));
  try {
    progress('making a 720p clip');
    const clip = await makeClip(clipDir, SOAK_SIZE);
    const runs = [];
    const hubRuns = [];
    for (const rate of rates) {
      for (const adapt of [false, true]) {
        progress(`slow link ${rate.label}${adapt ? ' --adapt' : ''} for ${seconds} s`);
        runs.push(await measureSlowLink(clip, rate, adapt, seconds));
      }
      progress(`slow link ${rate.label} through the hub for ${seconds} s`);
      hubRuns.push(...(await measureSlowLinkThroughHub(clip, rate, seconds)));
    }
    process.stdout.write(renderSlowLinkReport([...runs, ...hubRuns]));
    if (json) {
      await mkdir(dirname(resolve(json)), { recursive: true });
      await writeSummaryFile(json, { startedAt: new Date().toISOString(), machine: describeMachine(), slowLink: runs, slowLinkHub: hubRuns });
      progress(`wrote ${json}`);
    }
  } finally {
    await rm(clipDir, { recursive: true, force: true });
  }
  return 0;
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
