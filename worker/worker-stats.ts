import { DEFAULTS } from '../common/defaults';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { RateWindow } from '../common/stats/rate-window';

export interface WorkerSummary {
  worker: string;
  processor: string;
  jobs: number;
  /** Whether the hub answers now (a HELLO or heartbeat heard within the liveness window). */
  connected: boolean;
  frames: number;
  framesPerSecond: number;
  processingMs: { p50: number; p99: number };
  /** Share of the time (since the last summary; since start at exit) with no frame in hand. */
  idlePercent: number;
  /** Processor calls that threw: answered with {"error": ...} as the result. */
  errors: number;
  /** Times the hub went silent past the liveness window, or said DISCONNECT: the worker reconnected. */
  timeouts: number;
  /** WORK messages whose frame was malformed, or past the credit: dropped (the hub times them out). */
  rejected: number;
}

export class WorkerStats {
  frames = 0;
  errors = 0;
  timeouts = 0;
  rejected = 0;
  private readonly rate = new RateWindow(DEFAULTS.rateWindowMs);
  private readonly processing = new LatencyHistogram();
  private inHand = 0;
  private idleSinceMs: number | undefined = performance.now();
  private idleMs = 0;
  private windowStartMs = performance.now();
  private windowIdleMs = 0;
  private readonly startMs = performance.now();

  started(): void {
    if (this.inHand++ === 0 && this.idleSinceMs !== undefined) {
      const idle = performance.now() - this.idleSinceMs;
      this.idleMs += idle;
      this.windowIdleMs += idle;
      this.idleSinceMs = undefined;
    }
  }

  finished(processingMs: number | undefined): void {
    if (processingMs !== undefined) {
      this.frames++;
      this.rate.record(Date.now());
      this.processing.recordMicros(processingMs * 1000);
    }
    if (--this.inHand === 0) this.idleSinceMs = performance.now();
  }

  summary(identity: { worker: string; processor: string; jobs: number; connected: boolean }, final: boolean): WorkerSummary {
    const now = performance.now();
    const openIdle = this.idleSinceMs === undefined ? 0 : now - this.idleSinceMs;
    let idlePercent: number;
    if (final) {
      idlePercent = (100 * (this.idleMs + openIdle)) / Math.max(1, now - this.startMs);
    } else {
      idlePercent = (100 * (this.windowIdleMs + openIdle)) / Math.max(1, now - this.windowStartMs);
      this.windowStartMs = now;
      this.windowIdleMs = 0;
      if (this.idleSinceMs !== undefined) {
        this.idleMs += openIdle;
        this.idleSinceMs = now;
      }
    }
    const { p50, p99 } = this.processing.percentilesMs();
    return {
      ...identity,
      frames: this.frames,
      framesPerSecond: this.rate.rates(Date.now()).perSecond,
      processingMs: { p50, p99 },
      idlePercent: Math.round(Math.min(100, idlePercent) * 10) / 10,
      errors: this.errors,
      timeouts: this.timeouts,
      rejected: this.rejected,
    };
  }
}

export function workerLine(s: WorkerSummary): string {
  return (
    `${s.worker} (${s.processor}, ${s.jobs} jobs) ${s.connected ? 'connected' : 'waiting for the hub'} | ${s.framesPerSecond.toFixed(1)} frames/s` +
    ` processing p50 ${s.processingMs.p50} ms p99 ${s.processingMs.p99} ms | idle ${s.idlePercent.toFixed(0)}% | frames ${s.frames} errors ${s.errors} timeouts ${s.timeouts}`
  );
}
