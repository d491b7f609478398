import { sizeName } from './clip';
import { table } from './markdown-table';
import { curveSection, type CurveCost } from './curve-cost';
import type { EncodeCeiling } from './encode-ceiling';
import type { Machine } from './machine';
import type { PipelineRun } from './pipeline';
import type { ProfileSummary } from './profile';
import { renderReference, type ReferenceComparison } from './reference';
import type { SoakResult } from './soak';
import type { TargetCheck } from './targets';
import type { Throughput } from './throughput';

/** Everything one `npm run bench` measured; what --json writes. */
export interface BenchResults {
  startedAt: string;
  durationS: number;
  mode: 'quick' | 'full';
  machine: Machine;
  settings: {
    quality: number;
    optimiseCoding: boolean;
    encodeConcurrency: number;
    threadPoolSize: number;
    clip: { codec: string; noise: number; fps: number; seconds: number };
  };
  encodeCeiling: EncodeCeiling[];
  throughput: Throughput[];
  latency: PipelineRun[];
  soak?: SoakResult | undefined;
  /** Against the Python reference loop; absent with --no-reference. */
  reference?: ReferenceComparison | undefined;
  curve?: CurveCost | undefined;
  targets: TargetCheck[];
  profiles?: ProfileSummary[] | undefined;
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(0);
const kb = (bytes: number): string => (bytes / 1e3).toFixed(0);
const f2 = (x: number): string => x.toFixed(2);
const othersCpu = (percent: number | null): string => (percent === null ? '?' : `${percent}%`);

function machineSection(r: BenchResults): string {
  const m = r.machine;
  const load = m.loadAverageAfter === undefined ? '' : `, ${m.loadAverageAfter.toFixed(2)} after`;
  return [
    `Machine: ${m.cores} cores, ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(0)} GiB, ${m.os}`,
    `Software: Node ${m.node}, sharp ${m.sharp} (libvips ${m.libvips}), OpenCV ${m.opencv}, libzmq ${m.libzmq}`,
    `Load average (1 min): ${m.loadAverageBefore.toFixed(2)} before${load}`,
    `Settings: JPEG quality ${r.settings.quality}, optimiseCoding ${r.settings.optimiseCoding}, ${r.settings.encodeConcurrency} encodes in flight, UV_THREADPOOL_SIZE ${r.settings.threadPoolSize}`,
    `Input: testsrc2 + temporal noise ${r.settings.clip.noise}, ${r.settings.clip.seconds} s at ${r.settings.clip.fps} fps, ${r.settings.clip.codec}, looped through the OpenCV file source`,
  ].join('\n');
}

function ceilingSection(rows: EncodeCeiling[]): string {
  const other = rows[0]?.sharpOtherCoding.optimiseCoding ? 'on' : 'off';
  return table(
    ['size', 'capture ms (cpu)', 'decode ms', 'sharp ms', 'sharp fps 1 / all cores', 'sharp kB', `sharp optimise ${other} ms`, `kB`, 'sharp no-encode ms', 'imencode ms', 'imencode fps 1 / all cores', 'imencode kB', 'sharp / imencode', 'same scan data', 'CPU used by others'],
    rows.map((c) => [
      sizeName(c.size),
      `${f2(c.capture.msPerFrame)} (${f2(c.capture.cpuMsPerFrame)})`,
      f2(c.decode.msPerFrame),
      f2(c.sharp.msPerFrame),
      `${c.sharp.fps} / ${c.sharp.parallelFps}`,
      kb(c.sharp.meanBytes),
      f2(c.sharpOtherCoding.msPerFrame),
      kb(c.sharpOtherCoding.meanBytes),
      f2(c.sharpPassThrough.msPerFrame),
      f2(c.imencode.msPerFrame),
      `${c.imencode.fps} / ${c.imencode.parallelFps}`,
      kb(c.imencode.meanBytes),
      f2(c.sharp.msPerFrame / c.imencode.msPerFrame),
      c.sameScanData ? (c.sameBytes ? 'yes, whole file' : 'yes') : 'no',
      othersCpu(c.otherProcessesPercent),
    ]),
  );
}

function throughputSection(rows: Throughput[]): string {
  return table(
    ['size', 'transport', 'received fps', 'sent fps', 'ceiling fps', 'ratio', '1-core encode fps', 'sender CPU ms/frame', 'receiver CPU ms/frame', 'page faults/frame sender, receiver', 'dropped', 'encode ms (in flight)', 'CPU used by others'],
    rows.map((t) => [
      sizeName(t.size),
      t.transport,
      t.fps.toFixed(1),
      t.senderFps.toFixed(1),
      t.ceilingFps,
      f2(t.ratio),
      t.oneCoreEncodeFps,
      f2(t.run.sender.usage.cpuMsPerFrame),
      f2(t.run.receiver.usage.cpuMsPerFrame),
      `${t.run.sender.usage.pageFaultsPerFrame}, ${t.run.receiver.usage.pageFaultsPerFrame}`,
      t.run.receiver.dropped,
      f2(t.run.sender.encodeMs.mean),
      othersCpu(t.run.otherProcessesPercent),
    ]),
  );
}

function latencySection(rows: PipelineRun[]): string {
  return table(
    ['size', 'fps', 'frames', 'p50 ms', 'p95 ms', 'p99 ms', 'p50 in sender / socket to receiver', 'encode ms (in pipeline)', 'sender CPU ms/frame', 'receiver CPU ms/frame', 'page faults/frame sender, receiver', 'dropped', 'CPU used by others'],
    rows.map((run) => [
      sizeName(run.size),
      run.receiver.fps.toFixed(1),
      run.receiver.usage.frames,
      f2(run.receiver.latencyMs.p50),
      f2(run.receiver.latencyMs.p95),
      f2(run.receiver.latencyMs.p99),
      `${f2(run.receiver.latencySplitMs.sender.p50)} / ${f2(run.receiver.latencySplitMs.transport.p50)}`,
      f2(run.sender.encodeMs.p50),
      f2(run.sender.usage.cpuMsPerFrame),
      f2(run.receiver.usage.cpuMsPerFrame),
      `${run.sender.usage.pageFaultsPerFrame}, ${run.receiver.usage.pageFaultsPerFrame}`,
      run.receiver.dropped,
      othersCpu(run.otherProcessesPercent),
    ]),
  );
}

function memorySection(r: BenchResults): string {
  const runs: [string, PipelineRun][] = [
    ...r.throughput.map((t): [string, PipelineRun] => [`${sizeName(t.size)} ${t.transport} unthrottled`, t.run]),
    ...r.latency.map((run): [string, PipelineRun] => [`${sizeName(run.size)} ${run.pacedFps} fps`, run]),
    ...(r.soak ? [[`soak ${sizeName(r.soak.size)} unthrottled`, r.soak.run] as [string, PipelineRun]] : []),
  ];
  return table(
    ['run', 'frames', 'sender RSS MB start / warm / end', 'receiver RSS MB start / warm / end'],
    runs.map(([name, run]) => [
      name,
      run.sender.framesSent,
      `${mb(run.sender.usage.rssStartBytes)} / ${mb(run.sender.usage.rssWarmBytes)} / ${mb(run.sender.usage.rssEndBytes)}`,
      `${mb(run.receiver.usage.rssStartBytes)} / ${mb(run.receiver.usage.rssWarmBytes)} / ${mb(run.receiver.usage.rssEndBytes)}`,
    ]),
  );
}

function targetsSection(checks: TargetCheck[]): string {
  return table(
    ['target', 'measured', 'limit', 'met'],
    checks.map((c) => [c.target, c.met === null && c.note ? c.note : c.measured, c.limit, c.met === null ? '-' : c.met ? 'yes' : 'NO']),
  );
}

function profileSection(profiles: ProfileSummary[]): string {
  return profiles
    .map((p) => `${p.file}: main thread busy ${p.busyMs} of ${p.totalMs} ms\n${table(['self time', 'ms', '% of busy'], p.top.map((t) => [t.name, t.ms, t.percentOfBusy]))}`)
    .join('\n\n');
}

export function renderReport(r: BenchResults): string {
  const sections = [
    `zerocam bench (${r.mode}), ${r.startedAt}, ${r.durationS} s`,
    machineSection(r),
    `Encode ceiling: one stage at a time, median ms per frame\n${ceilingSection(r.encodeCeiling)}`,
    `Pipeline, unthrottled: file source -> sender -> socket -> headless receiver (separate processes)\n${throughputSection(r.throughput)}`,
    `Latency at a camera's pace, capture to receive, tcp loopback\n${latencySection(r.latency)}`,
    ...(r.reference ? [`Against the Python reference loop (imagezmq-style: read, stamp, cv2.imencode q80, pyzmq send_multipart)\n\n${renderReference(r.reference)}`] : []),
    `Memory\n${memorySection(r)}`,
    `Targets\n${targetsSection(r.targets)}`,
  ];
  if (r.curve) sections.push(`CURVE's cost at a camera's pace, tcp loopback, side by side with plaintext\n${curveSection(r.curve)}`);
  if (r.profiles?.length) sections.push(`Main-thread CPU profiles (node --cpu-prof), top self time\n${profileSection(r.profiles)}`);
  return `${sections.join('\n\n')}\n`;
}
