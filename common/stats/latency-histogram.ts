export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Samples are clamped to 1 µs .. 10 minutes. */
const HIGHEST_US = 600_000_000;
/**
 * HDR histogram layout with 3 significant figures (what Node's createHistogram({ figures: 3 }) does):
 * values below 2048 µs each have their own counter; above, each power of two is cut into 1024
 * counters, so a counter is never wider than 1/1024 of its value.
 */
const SUB_BUCKETS = 2048;
const HALF_SUB_BUCKETS = 1024;
/** Counters are allocated in chunks of this many, on first use: only the values a stream has seen cost memory. */
const CHUNK_BITS = 6;
const CHUNK = 1 << CHUNK_BITS;

function indexOf(micros: number): number {
  if (micros < SUB_BUCKETS) return micros;
  const bucket = 31 - Math.clz32(micros) - 10;
  return SUB_BUCKETS + (bucket - 1) * HALF_SUB_BUCKETS + ((micros >>> bucket) - HALF_SUB_BUCKETS);
}

/** The highest value that shares counter `index` (HDR's highest equivalent value). */
function highestValueOf(index: number): number {
  if (index < SUB_BUCKETS) return index;
  const offset = index - SUB_BUCKETS;
  const bucket = (offset >>> 10) + 1;
  const subBucket = (offset & (HALF_SUB_BUCKETS - 1)) + HALF_SUB_BUCKETS;
  return subBucket * 2 ** bucket + 2 ** bucket - 1;
}

/**
 * Latency percentiles: an HDR histogram (3 significant figures, as Node's built-in one), recorded in
 * microseconds, whose counters are allocated in small chunks as values arrive. Node's histogram
 * allocates all 21,504 counters (172 kB) up front and reset() writes every one, which cost each
 * stream of a hub about 320 kB of resident memory; a stream's latency spans a few hundred counters.
 */
export class LatencyHistogram {
  private readonly chunks = new Map<number, Float64Array>();
  private total = 0;
  /** Samples below 1 µs: clocks on two hosts that disagree. Recorded as 1 µs and counted here. */
  negative = 0;

  /** One histogram holding every sample of `parts`: an aggregate without recording each sample twice. */
  static merged(parts: Iterable<LatencyHistogram>): LatencyHistogram {
    const total = new LatencyHistogram();
    for (const part of parts) total.add(part);
    return total;
  }

  /** Adds every sample of `other` to this one. */
  add(other: LatencyHistogram): void {
    for (const [key, counts] of other.chunks) {
      const into = this.chunk(key);
      for (let i = 0; i < CHUNK; i++) into[i]! += counts[i]!;
    }
    this.total += other.total;
    this.negative += other.negative;
  }

  recordMicros(micros: number): void {
    if (micros < 1) {
      this.negative++;
      micros = 1;
    }
    const index = indexOf(Math.min(Math.round(micros), HIGHEST_US));
    this.chunk(index >>> CHUNK_BITS)[index & (CHUNK - 1)]!++;
    this.total++;
  }

  get count(): number {
    return this.total;
  }

  /** p50/p95/p99 in milliseconds, rounded to µs; zeros when nothing was recorded. */
  percentilesMs(): Percentiles {
    if (this.total === 0) return { p50: 0, p95: 0, p99: 0 };
    const ms = (p: number): number => Math.round(this.percentile(p)) / 1000;
    return { p50: ms(50), p95: ms(95), p99: ms(99) };
  }

  /** Forgets every sample, and the memory they took. */
  reset(): void {
    this.chunks.clear();
    this.total = 0;
    this.negative = 0;
  }

  /** As HDR's value_at_percentile: the highest value equivalent to the sample at that rank. */
  private percentile(p: number): number {
    const rank = Math.max(1, Math.round((p / 100) * this.total));
    let seen = 0;
    let last = 0;
    for (const key of [...this.chunks.keys()].sort((a, b) => a - b)) {
      const counts = this.chunks.get(key)!;
      for (let i = 0; i < CHUNK; i++) {
        if (counts[i] === 0) continue;
        last = (key << CHUNK_BITS) + i;
        seen += counts[i]!;
        if (seen >= rank) return highestValueOf(last);
      }
    }
    return highestValueOf(last);
  }

  private chunk(key: number): Float64Array {
    let counts = this.chunks.get(key);
    if (!counts) this.chunks.set(key, (counts = new Float64Array(CHUNK)));
    return counts;
  }
}
