/**
 * Where the monotonic clock's zero sits on the wall clock, in ms, known to lie within [lowMs, highMs].
 * Each reading of the wall clock (whole ms) taken between two readings of the monotonic clock
 * bounds it: the wall clock was read at some monotonic time between the two, so the origin lies in
 * [wall − after, wall + 1 − before]. Readings narrow the interval to well under a millisecond.
 */
export class WallClockAnchor {
  private lowMs: number;
  private highMs: number;

  constructor(originMs: number) {
    this.lowMs = originMs;
    this.highMs = originMs;
  }

  /**
   * Wall-clock µs at the monotonic time `afterMs`, given a wall-clock reading `wallMs` taken after
   * the monotonic reading `beforeMs` and before `afterMs`. A reading whose interval misses the
   * origin's means the wall clock stepped (or slewed) out of it: the origin starts afresh from it,
   * so a running process never keeps a clock its host abandoned. Taking both monotonic readings is
   * what keeps a thread descheduled between two reads from looking like a step: its interval only
   * widens by the time it lost.
   */
  read(beforeMs: number, wallMs: number, afterMs: number): number {
    const low = wallMs - afterMs;
    const high = wallMs + 1 - beforeMs;
    if (low > this.highMs || high < this.lowMs) {
      this.lowMs = low;
      this.highMs = high;
    } else {
      this.lowMs = Math.max(this.lowMs, low);
      this.highMs = Math.min(this.highMs, high);
    }
    return Math.round(((this.lowMs + this.highMs) / 2 + afterMs) * 1000);
  }
}

const anchor = new WallClockAnchor(performance.timeOrigin);

/**
 * Wall-clock time in microseconds since the Unix epoch, with sub-millisecond resolution.
 * Latency is measured across processes (and hosts), so it must be wall-clock based; across hosts
 * the offset between the clocks is measured on the wire (docs/protocol.md, "Clock offsets").
 * The monotonic clock gives the resolution; the wall clock (Date.now(), whole ms) is read on every
 * call, so a stepped wall clock is followed (WallClockAnchor).
 */
export function nowMicros(): number {
  const beforeMs = performance.now();
  const wallMs = Date.now();
  return anchor.read(beforeMs, wallMs, performance.now());
}
