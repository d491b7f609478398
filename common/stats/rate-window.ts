const BUCKETS = 20;

/**
 * Events and bytes per second over a trailing window, in constant memory: the window is cut
 * into fixed buckets, so recording is O(1) however high the frame rate.
 */
export class RateWindow {
  private readonly bucketMs: number;
  private readonly counts = new Float64Array(BUCKETS);
  private readonly bytes = new Float64Array(BUCKETS);
  private currentBucket = -1;
  private firstMs: number | undefined;

  constructor(private readonly windowMs: number) {
    this.bucketMs = windowMs / BUCKETS;
  }

  record(nowMs: number, bytes = 0): void {
    this.advance(nowMs);
    this.firstMs ??= nowMs;
    const slot = this.currentBucket % BUCKETS;
    this.counts[slot] = (this.counts[slot] ?? 0) + 1;
    this.bytes[slot] = (this.bytes[slot] ?? 0) + bytes;
  }

  /** { perSecond, bytesPerSecond } over the window ending at nowMs (or since the first event, if sooner). */
  rates(nowMs: number): { perSecond: number; bytesPerSecond: number } {
    this.advance(nowMs);
    if (this.firstMs === undefined) return { perSecond: 0, bytesPerSecond: 0 };
    let count = 0;
    let bytes = 0;
    for (let i = 0; i < BUCKETS; i++) {
      count += this.counts[i] ?? 0;
      bytes += this.bytes[i] ?? 0;
    }
    const sinceFirstMs = nowMs - this.firstMs;
    if (sinceFirstMs < this.windowMs) {
      // Still filling the window: n events since the first span n - 1 intervals.
      if (count < 2) return { perSecond: 0, bytesPerSecond: 0 };
      const spanMs = Math.max(this.bucketMs, sinceFirstMs);
      return { perSecond: ((count - 1) * 1000) / spanMs, bytesPerSecond: ((bytes * (count - 1)) / count) * (1000 / spanMs) };
    }
    return { perSecond: (count * 1000) / this.windowMs, bytesPerSecond: (bytes * 1000) / this.windowMs };
  }

  private advance(nowMs: number): void {
    const bucket = Math.floor(nowMs / this.bucketMs);
    if (this.currentBucket < 0) {
      this.currentBucket = bucket;
      return;
    }
    const steps = Math.min(BUCKETS, bucket - this.currentBucket);
    for (let i = 1; i <= steps; i++) {
      const slot = (this.currentBucket + i) % BUCKETS;
      this.counts[slot] = 0;
      this.bytes[slot] = 0;
    }
    if (bucket > this.currentBucket) this.currentBucket = bucket;
  }
}
