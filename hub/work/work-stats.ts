import { DEFAULTS } from '../../common/defaults';
import { LatencyHistogram } from '../../common/stats/latency-histogram';
import { RateWindow } from '../../common/stats/rate-window';
import type { WorkMetrics } from '../../common/web/metrics';

/** The hub's counters for --workers; every count is since start. */
export interface WorkCounters {
  /** Frames taken for processing (after --work-topics and --work-every). */
  offered: number;
  /** WORK messages sent (re-dispatches included). */
  dispatched: number;
  results: number;
  /** live: frames replaced by a newer one before any worker took them. */
  skipped: number;
  /** every: frames handed to another worker after their worker died, left or timed out. */
  redispatched: number;
  /** Frames out at a worker past --work-timeout. */
  timeouts: number;
  /** Results dropped because a result of a later frame of their stream had already left. */
  late: number;
  /** Results for a frame already answered, or taken from their worker. */
  duplicates: number;
  /** Results for a job the hub never dispatched. */
  unknown: number;
  /** RESULT messages that do not parse (bad JSON, bad image): dropped. */
  malformed: number;
  /** Messages that are not the work protocol: their worker is disconnected. */
  garbage: number;
  /** live: frames whose worker died with them (nobody processes them). */
  abandoned: number;
  /** every: frames given up after DEFAULTS.workMaxAttempts workers failed them. */
  failed: number;
  /** --affinity stream: streams moved to another worker because theirs died or left. */
  moved: number;
}

export interface ProcessorSummary {
  workers: number;
  busy: number;
  results: number;
  resultsPerSecond: number;
  processingMs: { p50: number; p99: number };
}

export interface WorkSummary extends WorkCounters {
  mode: string;
  workers: number;
  busy: number;
  resultsPerSecond: number;
  processingMs: { p50: number; p99: number };
  /** What the hub adds to the processing time: dispatch to result at the hub, less the worker's own processing ms. */
  overheadMs: { p50: number; p99: number };
  /** every: frames the hub holds now (queued, out, or results waiting for their turn). */
  held: number;
  processors: Record<string, ProcessorSummary>;
}

class ProcessorStats {
  results = 0;
  readonly rate = new RateWindow(DEFAULTS.rateWindowMs);
  readonly processing = new LatencyHistogram();
}

export class WorkStats {
  readonly counters: WorkCounters = {
    offered: 0,
    dispatched: 0,
    results: 0,
    skipped: 0,
    redispatched: 0,
    timeouts: 0,
    late: 0,
    duplicates: 0,
    unknown: 0,
    malformed: 0,
    garbage: 0,
    abandoned: 0,
    failed: 0,
    moved: 0,
  };
  private readonly processors = new Map<string, ProcessorStats>();
  private readonly rate = new RateWindow(DEFAULTS.rateWindowMs);
  private readonly processing = new LatencyHistogram();
  private readonly overhead = new LatencyHistogram();

  onResult(processor: string, processingMs: number, roundTripMs: number, nowMs: number): void {
    this.counters.results++;
    this.rate.record(nowMs);
    this.processing.recordMicros(processingMs * 1000);
    this.overhead.recordMicros(Math.max(0, roundTripMs - processingMs) * 1000);
    let stats = this.processors.get(processor);
    if (!stats) {
      // Processor names come from HELLOs; the hub caps its workers, so this map stays small.
      stats = new ProcessorStats();
      this.processors.set(processor, stats);
    }
    stats.results++;
    stats.rate.record(nowMs);
    stats.processing.recordMicros(processingMs * 1000);
  }

  summary(mode: string, workers: ReadonlyArray<{ processor: string; busy: boolean }>, held: number, nowMs: number): WorkSummary {
    const pick = (h: LatencyHistogram): { p50: number; p99: number } => {
      const { p50, p99 } = h.percentilesMs();
      return { p50, p99 };
    };
    const processors: Record<string, ProcessorSummary> = {};
    const names = new Set([...this.processors.keys(), ...workers.map((w) => w.processor)]);
    for (const name of names) {
      const stats = this.processors.get(name);
      const mine = workers.filter((w) => w.processor === name);
      processors[name] = {
        workers: mine.length,
        busy: mine.filter((w) => w.busy).length,
        results: stats?.results ?? 0,
        resultsPerSecond: stats ? stats.rate.rates(nowMs).perSecond : 0,
        processingMs: stats ? pick(stats.processing) : { p50: 0, p99: 0 },
      };
    }
    return {
      mode,
      ...this.counters,
      workers: workers.length,
      busy: workers.filter((w) => w.busy).length,
      resultsPerSecond: this.rate.rates(nowMs).perSecond,
      processingMs: pick(this.processing),
      overheadMs: pick(this.overhead),
      held,
      processors,
    };
  }
}

/** The summary as the gateway shows it (/streams.json's `work`, /metrics). */
export function workMetrics(s: WorkSummary): WorkMetrics {
  const { mode, workers, busy, resultsPerSecond, processingMs, processors } = s;
  const events: Record<string, number> = {};
  for (const [name, count] of Object.entries(s)) if (typeof count === 'number' && !['workers', 'busy', 'resultsPerSecond', 'held'].includes(name)) events[name] = count;
  return { mode, workers, busy, resultsPerSecond, processingMs, processors, events };
}

/** The work part of the hub's live line. */
export function workLine(s: WorkSummary): string {
  return (
    ` | work (${s.mode}): ${s.workers} workers (${s.busy} busy) ${s.resultsPerSecond.toFixed(1)} results/s processing p50 ${s.processingMs.p50} ms` +
    ` skipped ${s.skipped} redispatched ${s.redispatched} timeouts ${s.timeouts} late ${s.late}${s.malformed + s.garbage ? ` malformed ${s.malformed + s.garbage}` : ''}`
  );
}
