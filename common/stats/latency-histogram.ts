import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Latency percentiles in constant memory: Node's built-in HDR histogram, recorded in microseconds. */
export class LatencyHistogram {
  private readonly histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: 600_000_000, figures: 3 });
  /** Samples below 1 µs: clocks on two hosts that disagree. Recorded as 1 µs and counted here. */
  negative = 0;

  /** One histogram holding every sample of `parts`: an aggregate without recording each sample twice. */
  static merged(parts: Iterable<LatencyHistogram>): LatencyHistogram {
    const total = new LatencyHistogram();
    for (const part of parts) {
      total.histogram.add(part.histogram);
      total.negative += part.negative;
    }
    return total;
  }

  recordMicros(micros: number): void {
    if (micros < 1) {
      this.negative++;
      micros = 1;
    }
    this.histogram.record(Math.min(Math.round(micros), 600_000_000));
  }

  get count(): number {
    return this.histogram.count;
  }

  /** p50/p95/p99 in milliseconds, rounded to µs; zeros when nothing was recorded. */
  percentilesMs(): Percentiles {
    if (this.histogram.count === 0) return { p50: 0, p95: 0, p99: 0 };
    const ms = (p: number): number => Math.round(this.histogram.percentile(p)) / 1000;
    return { p50: ms(50), p95: ms(95), p99: ms(99) };
  }

  reset(): void {
    this.histogram.reset();
    this.negative = 0;
  }
}
