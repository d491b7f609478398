/**
 * Where the monotonic clock's zero sits on the wall clock, in ms, known to lie within [lowMs, highMs].
 * Each reading of the wall clock (whole ms) taken between two readings of the monotonic clock
 * bounds it: the wall clock was read at some monotonic time between the two, so the origin lies in
 * [wall − after, wall + 1 − before]. One reading leaves a millisecond of doubt, so a fresh interval
 * is only a guess to within ±0.5 ms; the readings on either side of a tick of the wall clock narrow
 * it to the time between them (WallClock reads until a tick whenever the interval is fresh).
 */
export class WallClockAnchor {
  private lowMs = -Infinity;
  private highMs = Infinity;
  private fresh = true;

  /**
   * Wall-clock µs at the monotonic time `afterMs`, given a wall-clock reading `wallMs` taken after
   * the monotonic reading `beforeMs` and before `afterMs`. A reading whose interval misses the
   * origin's means the wall clock stepped out of it (Linux slews the monotonic clock with the wall
   * clock, so only a step does this): the origin starts afresh from it, so a running process never
   * keeps a clock its host abandoned. Taking both monotonic readings is what keeps a thread
   * descheduled between two reads from looking like a step: its interval only widens by the time it lost.
   */
  read(beforeMs: number, wallMs: number, afterMs: number): number {
    const low = wallMs - afterMs;
    const high = wallMs + 1 - beforeMs;
    if (low > this.highMs || high < this.lowMs) {
      this.lowMs = low;
      this.highMs = high;
      this.fresh = true;
    } else {
      this.lowMs = Math.max(this.lowMs, low);
      this.highMs = Math.min(this.highMs, high);
    }
    return Math.round(((this.lowMs + this.highMs) / 2 + afterMs) * 1000);
  }

  /** How much the origin is still in doubt, ms: the wall clock read now is off by at most half of it. */
  get widthMs(): number {
    return this.highMs - this.lowMs;
  }

  /** True once after the interval (re)started: the first reading, or a step. */
  takeFresh(): boolean {
    const fresh = this.fresh;
    this.fresh = false;
    return fresh;
  }
}

/** Calibration stops once the origin is known this well (ms); a tick caught between two reads gives well under it. */
const CALIBRATED_WIDTH_MS = 0.005;
/** Past this long (ms), calibration settles for a tenth of a millisecond of doubt ... */
const CALIBRATION_BUDGET_MS = 3;
const SETTLED_WIDTH_MS = 0.1;
/** ... and past this it gives up: a wall clock that does not tick (a frozen fake clock) keeps its doubt. A thread descheduled mid-calibration still catches a tick before it. */
const CALIBRATION_LIMIT_MS = 20;

/** The two clocks a WallClock reads: monotonic ms (fractional) and wall ms (whole). */
export interface ClockSources {
  monotonicMs(): number;
  wallMs(): number;
}

const SYSTEM_CLOCKS: ClockSources = { monotonicMs: () => performance.now(), wallMs: () => Date.now() };

/**
 * The wall clock at the monotonic clock's resolution. At the first reading and after a step, it
 * reads the wall clock until it ticks (at most a millisecond, once): an origin guessed from one
 * reading would put every timestamp up to 0.5 ms off, more than a loopback exchange's uncertainty.
 */
export class WallClock {
  private readonly anchor = new WallClockAnchor();

  constructor(private readonly clocks: ClockSources = SYSTEM_CLOCKS) {}

  nowMicros(): number {
    let us = this.read();
    if (this.anchor.takeFresh()) {
      const startMs = this.clocks.monotonicMs();
      for (;;) {
        const width = this.anchor.widthMs;
        const elapsedMs = this.clocks.monotonicMs() - startMs;
        if (width <= CALIBRATED_WIDTH_MS || (elapsedMs >= CALIBRATION_BUDGET_MS && width <= SETTLED_WIDTH_MS) || elapsedMs >= CALIBRATION_LIMIT_MS) break;
        us = this.read();
      }
    }
    return us;
  }

  /** How far the wall clock read now may be off, µs (half the origin's interval). */
  get uncertaintyUs(): number {
    return (this.anchor.widthMs / 2) * 1000;
  }

  private read(): number {
    const beforeMs = this.clocks.monotonicMs();
    const wallMs = this.clocks.wallMs();
    return this.anchor.read(beforeMs, wallMs, this.clocks.monotonicMs());
  }
}

const systemClock = new WallClock();

/**
 * Wall-clock time in microseconds since the Unix epoch, with sub-millisecond resolution.
 * Latency is measured across processes (and hosts), so it must be wall-clock based; across hosts
 * the offset between the clocks is measured on the wire (docs/protocol.md, "Clock offsets").
 * The monotonic clock gives the resolution; the wall clock (Date.now(), whole ms) is read on every
 * call, so a stepped wall clock is followed (WallClock, WallClockAnchor).
 */
export function nowMicros(): number {
  return systemClock.nowMicros();
}
