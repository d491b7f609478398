import { sizeName } from './clip';
import type { EncodeCeiling } from './encode-ceiling';
import type { IndependentCeiling } from './independent-ceiling';
import type { PipelineRun } from './pipeline';
import type { PythonReferenceRun } from './python-reference';
import type { SoakResult } from './soak';
import type { Throughput } from './throughput';

/** The targets of the speed issue, as numbers. Every ratio compares figures from the same run. */
export const TARGETS = {
  /** sharp in zerocam's settings against cv.imencode, per frame. */
  encodeRatioMax: 1.5,
  /** Unthrottled fps against the ceiling all cores allow. */
  throughputRatioMin: 0.9,
  /** Latency p50 at 30 fps: one frame's encode time plus this. */
  latencyP50OverEncodeMs: 1.5,
  latencyP99OverP50Max: 2,
  /** Headless receive without saving, per 720p frame. */
  receiverCpuMsPerFrameMax: 0.3,
  receiverCpuSize: '1280x720',
  rssGrowthPercentMax: 5,
  soakFramesMin: 20_000,
} as const;

export interface TargetCheck {
  target: string;
  measured: number;
  limit: number;
  /** null: not judged in this run (too short, or the size was not measured). */
  met: boolean | null;
  note?: string;
}

export interface Judged {
  encodeCeiling: EncodeCeiling[];
  throughput: Throughput[];
  latency: PipelineRun[];
  soak?: SoakResult | undefined;
}

const r2 = (x: number): number => Math.round(x * 100) / 100;

export function checkTargets(results: Judged): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const ceilingFor = (size: string): EncodeCeiling | undefined => results.encodeCeiling.find((c) => c.size === size);

  for (const c of results.encodeCeiling) {
    const ratio = r2(c.sharp.msPerFrame / c.imencode.msPerFrame);
    checks.push({ target: `encode ${sizeName(c.size)}: sharp ms / imencode ms per frame`, measured: ratio, limit: TARGETS.encodeRatioMax, met: ratio <= TARGETS.encodeRatioMax });
  }
  for (const t of results.throughput) {
    checks.push({
      target: `throughput ${sizeName(t.size)} ${t.transport}: fps / ceiling (${t.ceilingFps} fps)`,
      measured: r2(t.ratio),
      limit: TARGETS.throughputRatioMin,
      met: t.ratio >= TARGETS.throughputRatioMin,
    });
  }
  for (const run of results.latency) {
    const { p50, p99 } = run.receiver.latencyMs;
    const encodeMs = ceilingFor(run.size)?.sharp.msPerFrame;
    if (encodeMs !== undefined) {
      const limit = r2(encodeMs + TARGETS.latencyP50OverEncodeMs);
      checks.push({ target: `latency ${sizeName(run.size)} @${run.pacedFps} fps: p50 ms (encode ${encodeMs} + ${TARGETS.latencyP50OverEncodeMs})`, measured: p50, limit, met: p50 <= limit });
    }
    const ratio = p50 > 0 ? r2(p99 / p50) : 0;
    checks.push({ target: `latency ${sizeName(run.size)} @${run.pacedFps} fps: p99 / p50`, measured: ratio, limit: TARGETS.latencyP99OverP50Max, met: ratio <= TARGETS.latencyP99OverP50Max });
  }
  const receiverRuns: [string, PipelineRun][] = [
    ...results.throughput.map((t): [string, PipelineRun] => [`unthrottled ${t.transport}`, t.run]),
    ...results.latency.map((run): [string, PipelineRun] => [`${run.pacedFps} fps tcp`, run]),
  ];
  for (const [what, run] of receiverRuns) {
    if (run.size !== TARGETS.receiverCpuSize) continue;
    const cpu = run.receiver.usage.cpuMsPerFrame;
    checks.push({ target: `receiver CPU ms per 720p frame, ${what}`, measured: cpu, limit: TARGETS.receiverCpuMsPerFrameMax, met: cpu <= TARGETS.receiverCpuMsPerFrameMax });
  }
  const soak = results.soak;
  if (soak) {
    const judged = soak.frames >= TARGETS.soakFramesMin;
    const note = judged ? undefined : `only ${soak.frames} frames; the target is over ${TARGETS.soakFramesMin}`;
    for (const [side, growth] of [['sender', soak.senderGrowthPercent], ['receiver', soak.receiverGrowthPercent]] as const) {
      checks.push({ target: `RSS growth %, ${side}, ${soak.frames} frames ${sizeName(soak.size)}`, measured: growth, limit: TARGETS.rssGrowthPercentMax, met: judged ? growth <= TARGETS.rssGrowthPercentMax : null, ...(note ? { note } : {}) });
    }
  } else {
    checks.push({ target: 'RSS growth % over 20k frames', measured: 0, limit: TARGETS.rssGrowthPercentMax, met: null, note: 'not measured: run with --soak 20000' });
  }
  return checks;
}

/**
 * Speed III (#20): every figure a ratio to the tool users would otherwise pick, measured beside it
 * in the same run.
 */
export const TARGETS20 = {
  size: '1280x720',
  /** Sender CPU per frame at 30 fps over the Python loop's (bench/python-reference.py). */
  senderCpuRatioMax: 1.0,
  /** --passthrough sender CPU per frame at 30 fps, ms, and over the encoding path's. */
  passthroughCpuMsMax: 0.3,
  passthroughOfEncodingMax: 0.05,
  /** Receiver CPU per frame (no saving), at 30 fps and unthrottled, over the pyzmq SUB loop's (bench/python-receiver.py). */
  receiverCpuRatioMax: 1.5,
  /** Hub CPU per forwarded frame over pyzmq's zmq.proxy(XSUB, XPUB) (bench/python-hub.py), 1 and 4 receivers. */
  hubCpuRatioMax: 1.5,
  /** Capture-to-receive p50 at 30 fps over the Python loop's, and p99 over zerocam's own p50. */
  latencyP50RatioMax: 0.75,
  latencyP99OverP50Max: 2,
  /** Unthrottled fps over imencode in one independent single-threaded process per core (bench/imencode-loop.ts). */
  throughputOfIndependentCeilingMin: 0.6,
} as const;

/** Everything #20's rows are computed from, all from one run. */
export interface SpeedMeasures {
  size: string;
  /** zerocam and the Python loop, each at 30 fps on its own. */
  paced: { zerocam: PipelineRun; python: PythonReferenceRun };
  /** --passthrough on an MJPEG clip of the same content, and the encoding path it is compared with. */
  passthrough: { passthrough: PipelineRun; encoding: PipelineRun };
  /** Runs with zerocam's receiver and the pyzmq one on the same sender, side by side. */
  receiver: { paced: PipelineRun; unthrottled: PipelineRun };
  hub: { zerocam: HubCpuFigures; pythonProxy: HubCpuFigures };
  unthrottled: { zerocam: PipelineRun; ceiling: IndependentCeiling };
}

export interface HubCpuFigures {
  oneReceiver: number;
  fourReceivers: number;
  otherProcessesPercent: number | null;
}

/** One row of #20's table: "measured vs reference = ratio, target, met?". */
export interface SpeedRow {
  measure: string;
  measured: string;
  reference: string;
  ratio: string;
  target: string;
  /** null: a reference measured nothing, so there is no ratio. */
  met: boolean | null;
  /** The highest share of the machine other processes used during the runs behind the row. */
  otherProcessesPercent: number | null;
}

const f2 = (x: number): string => x.toFixed(2);
const f3 = (x: number): string => x.toFixed(3);
/** ours / theirs, or null when the reference measured nothing. */
const over = (ours: number, theirs: number): number | null => (theirs > 0 ? ours / theirs : null);
const shown = (ratio: number | null): string => (ratio === null ? '-' : f2(ratio));
const allMet = (...checks: Array<boolean | null>): boolean | null => (checks.includes(null) ? null : checks.every(Boolean));
const atMost = (ratio: number | null, limit: number): boolean | null => (ratio === null ? null : ratio <= limit);
/** The highest of the shares of the machine other processes used; null if any is unknown. */
export const busiest = (...percents: Array<number | null>): number | null => (percents.includes(null) ? null : Math.max(...(percents as number[])));

export function checkSpeedTargets(m: SpeedMeasures): SpeedRow[] {
  const T = TARGETS20;
  const size = sizeName(m.size);
  const rows: SpeedRow[] = [];

  const senderCpu = m.paced.zerocam.sender.usage.cpuMsPerFrame;
  const pythonCpu = m.paced.python.senderCpuMsPerFrame;
  const senderRatio = over(senderCpu, pythonCpu);
  rows.push({
    measure: `sender CPU per ${size} frame at 30 fps`,
    measured: `${f2(senderCpu)} ms`,
    reference: `Python loop ${f2(pythonCpu)} ms`,
    ratio: `${shown(senderRatio)}x`,
    target: `<= ${T.senderCpuRatioMax}x`,
    met: atMost(senderRatio, T.senderCpuRatioMax),
    otherProcessesPercent: m.paced.zerocam.otherProcessesPercent,
  });

  const passthroughCpu = m.passthrough.passthrough.sender.usage.cpuMsPerFrame;
  const encodingCpu = m.passthrough.encoding.sender.usage.cpuMsPerFrame;
  const passthroughRatio = over(passthroughCpu, encodingCpu);
  rows.push({
    measure: `--passthrough sender CPU per ${size} frame at 30 fps`,
    measured: `${f2(passthroughCpu)} ms`,
    reference: `encoding path ${f2(encodingCpu)} ms`,
    ratio: shown(passthroughRatio),
    target: `<= ${T.passthroughCpuMsMax} ms, <= ${T.passthroughOfEncodingMax}`,
    met: allMet(passthroughCpu <= T.passthroughCpuMsMax, atMost(passthroughRatio, T.passthroughOfEncodingMax)),
    otherProcessesPercent: busiest(m.passthrough.passthrough.otherProcessesPercent, m.passthrough.encoding.otherProcessesPercent),
  });

  const receivers = [m.receiver.paced, m.receiver.unthrottled].map((run) => {
    const ours = run.receiver.usage.cpuMsPerFrame;
    const theirs = run.pythonReceiver?.cpuMsPerFrame ?? 0;
    return { ours, theirs, ratio: over(ours, theirs) };
  });
  rows.push({
    measure: `receiver CPU per ${size} frame, no saving, 30 fps / unthrottled`,
    measured: receivers.map((r) => `${f3(r.ours)}`).join(' / ') + ' ms',
    reference: `pyzmq SUB ${receivers.map((r) => f3(r.theirs)).join(' / ')} ms`,
    ratio: `${receivers.map((r) => shown(r.ratio)).join(' / ')}x`,
    target: `<= ${T.receiverCpuRatioMax}x`,
    met: allMet(...receivers.map((r) => atMost(r.ratio, T.receiverCpuRatioMax))),
    otherProcessesPercent: busiest(m.receiver.paced.otherProcessesPercent, m.receiver.unthrottled.otherProcessesPercent),
  });

  const hubs = (['oneReceiver', 'fourReceivers'] as const).map((n) => ({ ours: m.hub.zerocam[n], theirs: m.hub.pythonProxy[n], ratio: over(m.hub.zerocam[n], m.hub.pythonProxy[n]) }));
  rows.push({
    measure: 'hub CPU per forwarded frame, 4 cameras at 720p30, 1 / 4 receivers',
    measured: `${hubs.map((h) => f3(h.ours)).join(' / ')} ms`,
    reference: `zmq.proxy(XSUB, XPUB) ${hubs.map((h) => f3(h.theirs)).join(' / ')} ms`,
    ratio: `${hubs.map((h) => shown(h.ratio)).join(' / ')}x`,
    target: `<= ${T.hubCpuRatioMax}x`,
    met: allMet(...hubs.map((h) => atMost(h.ratio, T.hubCpuRatioMax))),
    otherProcessesPercent: busiest(m.hub.zerocam.otherProcessesPercent, m.hub.pythonProxy.otherProcessesPercent),
  });

  const { p50, p99 } = m.paced.zerocam.receiver.latencyMs;
  const pythonP50 = m.paced.python.receiver.latencyMs.p50;
  const latencyRatio = over(p50, pythonP50);
  const spread = over(p99, p50);
  rows.push({
    measure: `${size} capture-to-receive at 30 fps, p50; p99 / p50`,
    measured: `p50 ${f2(p50)} ms, p99 ${f2(p99)} ms`,
    reference: `Python loop p50 ${f2(pythonP50)} ms`,
    ratio: `${shown(latencyRatio)}x; ${shown(spread)}`,
    target: `<= ${T.latencyP50RatioMax}x; <= ${T.latencyP99OverP50Max}`,
    met: allMet(atMost(latencyRatio, T.latencyP50RatioMax), atMost(spread, T.latencyP99OverP50Max)),
    otherProcessesPercent: m.paced.zerocam.otherProcessesPercent,
  });

  const fps = m.unthrottled.zerocam.receiver.fps;
  const { node, python } = m.unthrottled.ceiling;
  const ceilingRatio = over(fps, node.fps);
  rows.push({
    measure: `unthrottled ${size} fps`,
    measured: `${fps.toFixed(1)} fps`,
    reference: `imencode, ${node.processes} independent processes: ${node.fps} fps (Python cv2 ${python.fps})`,
    ratio: shown(ceilingRatio),
    target: `>= ${T.throughputOfIndependentCeilingMin}`,
    met: ceilingRatio === null ? null : ceilingRatio >= T.throughputOfIndependentCeilingMin,
    otherProcessesPercent: busiest(m.unthrottled.zerocam.otherProcessesPercent, node.otherProcessesPercent),
  });
  return rows;
}
