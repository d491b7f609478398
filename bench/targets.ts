import { sizeName } from './clip';
import type { EncodeCeiling } from './encode-ceiling';
import type { PipelineRun } from './pipeline';
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
