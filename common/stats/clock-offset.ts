/**
 * NTP-style estimate of a peer's clock offset, from four-timestamp exchanges (docs/protocol.md,
 * "Clock offsets"). Pure: no timers, no I/O; times are epoch microseconds, passed in.
 *
 * One exchange: t1 sent on the local clock, t2 received on the peer's, t3 answered on the peer's,
 * t4 answer received on the local clock. With one-way delays d1 (there) and d2 (back), both ≥ 0:
 *
 *   offset = ((t2 − t1) + (t3 − t4)) / 2      the peer's clock minus ours, off by (d1 − d2) / 2
 *   rtt    = (t4 − t1) − (t3 − t2)             = d1 + d2
 *
 * so the true offset lies within offset ± rtt/2 whatever the asymmetry. A queue on the way only
 * makes rtt larger, so the estimate is the exchange of the recent window with the smallest
 * rtt/2 + age × driftPpm (NTP's dispersion): the minimum-round-trip filter. Its uncertainty is that
 * same figure: half the minimum round trip, grown by the drift the clocks may have had since.
 *
 * The echo frame's transit: when the answer is a whole frame and the probe a small message, most
 * of the round trip is the frame crossing the slowest hop (bytes / rate), all of it on the way back,
 * and the plain offset is off by half of it. Given that time (`answerTransitUs`, from the rate the
 * receiver sees, common/stats/downstream-rate.ts), the exchange's offset is taken as if the answer
 * had been received that much earlier: the centre moves by half of it, and by no more than half the
 * round trip. Only the centre: a shaper's burst lets a frame through faster than bytes / rate, so
 * the transit is not a sound bound, and the interval reported stays one that holds the plain
 * [offset − rtt/2, offset + rtt/2], i.e. half-width (rtt + transit) / 2 around the moved centre.
 * The filter then prefers the exchange that this model fits best, |rtt − transit| / 2 (what queues
 * added, or by how much the transit the model expects exceeds the whole round trip), so the wider
 * sound interval does not make it ignore such exchanges.
 *
 * Drift: two clocks without NTP, or one NTP is slewing, drift apart by up to hundreds of ppm. Every
 * pair of exchanges bounds the rate: the offset moved from within one interval to within the other
 * in the time between them. When the rates every pair allows exclude 0, the drift is proven: the
 * middle of those rates carries each exchange's offset forward to now, and its uncertainty ages by
 * half their spread (at least driftPpm). Otherwise (clocks that drift slowly, or intervals too wide
 * to tell) nothing is carried and driftPpm ages it, as NTP's dispersion does.
 *
 * Steps: every exchange's interval [offset − rtt/2, offset + rtt/2] holds the true offset, so an
 * exchange whose interval misses the estimate's proves the clock moved. `stepSamples` such
 * exchanges in a row (not one: a single odd one may be a clock read interrupted) replace the window
 * with themselves. Drift: the window is `windowMs` long, so the estimate follows a slowly drifting
 * clock within that.
 */
export interface ClockSample {
  /** When the exchange completed, local clock (t4). */
  atUs: number;
  /** Peer minus local. */
  offsetUs: number;
  /** Round trip, without the peer's hold. */
  rttUs: number;
  /**
   * The time the answer is expected to have taken in transit beyond a small message's; offsetUs is
   * already moved by half of it, or of rttUs if that is less. Default 0.
   */
  answerTransitUs?: number;
}

export interface ClockEstimate {
  /** The peer's clock minus the local clock, µs: add it to a local time to get the peer's. */
  offsetUs: number;
  /** The true offset lies within offsetUs ± uncertaintyUs: half the best exchange's round trip (and its answer's transit), plus drift since. */
  uncertaintyUs: number;
  /** Exchanges in the window behind the estimate. */
  samples: number;
  /** Steps of the peer's clock detected so far. */
  steps: number;
}

export interface ClockOffsetOptions {
  /** Exchanges older than this are forgotten. Default 8 s. */
  windowMs?: number;
  /** At most this many exchanges are kept (memory bound). Default 64. */
  maxSamples?: number;
  /** How fast two clocks may drift apart, in parts per million; ages a sample's uncertainty. Default 50. */
  driftPpm?: number;
  /** Consecutive exchanges inconsistent with the estimate that make a step. Default 3. */
  stepSamples?: number;
  /** Slack added when judging consistency (timestamps taken in user space, not on the wire). Default 100 µs. */
  toleranceUs?: number;
}

/** An exchange whose round trip is negative or longer than this is not an exchange: ignored. */
const MAX_RTT_US = 10_000_000;
/** The proven drift rate is taken at most this large (µs per µs): past it, a clock is stepping, not drifting. */
const MAX_DRIFT_RATE = 1000e-6;

export class ClockOffsetEstimator {
  private samples: ClockSample[] = [];
  private inconsistent: ClockSample[] = [];
  private steps = 0;
  /** How fast the offset moves, µs per µs, when the window's exchanges prove it moves; else 0. */
  private driftRate = 0;
  /** How far the true rate may be from driftRate, µs per µs: what an exchange's uncertainty ages by. */
  private driftDoubt: number;
  private readonly windowUs: number;
  private readonly maxSamples: number;
  private readonly driftPerUs: number;
  private readonly stepSamples: number;
  private readonly toleranceUs: number;

  constructor(options: ClockOffsetOptions = {}) {
    this.windowUs = (options.windowMs ?? 8000) * 1000;
    this.maxSamples = options.maxSamples ?? 64;
    this.driftPerUs = (options.driftPpm ?? 50) / 1e6;
    this.driftDoubt = this.driftPerUs;
    this.stepSamples = options.stepSamples ?? 3;
    this.toleranceUs = options.toleranceUs ?? 100;
  }

  /**
   * One exchange from its four timestamps (t1, t4 local; t2, t3 the peer's), and the time its answer
   * is expected to have been in transit beyond a small message's. Returns whether it was used.
   */
  addExchange(t1: number, t2: number, t3: number, t4: number, answerTransitUs = 0): boolean {
    const rttUs = t4 - t1 - (t3 - t2);
    if (![t1, t2, t3, t4, answerTransitUs].every(Number.isFinite) || t3 < t2 || t4 < t1 || rttUs < 0 || rttUs > MAX_RTT_US) return false;
    const transitUs = Math.max(0, answerTransitUs);
    this.add({ atUs: t4, offsetUs: (t2 - t1 + (t3 - t4 + Math.min(transitUs, rttUs))) / 2, rttUs, answerTransitUs: transitUs });
    return true;
  }

  add(sample: ClockSample): void {
    this.expire(sample.atUs);
    const current = this.estimate(sample.atUs);
    if (current && Math.abs(sample.offsetUs - current.offsetUs) > halfWidth(sample) + current.uncertaintyUs + this.toleranceUs) {
      this.inconsistent.push(sample);
      if (this.inconsistent.length < this.stepSamples) return;
      // The peer's clock (or ours) stepped: what came before describes a clock that no longer exists.
      this.samples = this.inconsistent;
      this.inconsistent = [];
      this.steps++;
      this.updateDriftRate();
      return;
    }
    // Consistent again: the odd ones were noise, and they still bound the offset, so keep them.
    this.samples.push(...this.inconsistent, sample);
    this.inconsistent = [];
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
    this.updateDriftRate();
  }

  /** The drift rates every pair of the window's exchanges allows: if they exclude 0, their middle and half their spread. */
  private updateDriftRate(): void {
    let low = -Infinity;
    let high = Infinity;
    const { samples } = this;
    for (let j = 1; j < samples.length; j++) {
      for (let i = 0; i < j; i++) {
        const [early, late] = samples[i]!.atUs <= samples[j]!.atUs ? [samples[i]!, samples[j]!] : [samples[j]!, samples[i]!];
        const spanUs = late.atUs - early.atUs;
        if (spanUs <= 0) continue;
        low = Math.max(low, (late.offsetUs - halfWidth(late) - (early.offsetUs + halfWidth(early))) / spanUs);
        high = Math.min(high, (late.offsetUs + halfWidth(late) - (early.offsetUs - halfWidth(early))) / spanUs);
      }
    }
    // No constant rate fits (low > high: the clocks' rate changed), or 0 fits: nothing proven.
    const proven = low <= high && (low > 0 || high < 0) && Math.abs(low + high) / 2 <= MAX_DRIFT_RATE;
    this.driftRate = proven ? (low + high) / 2 : 0;
    this.driftDoubt = proven ? Math.max(this.driftPerUs, (high - low) / 2) : this.driftPerUs;
  }

  /** The estimate at local time `nowUs`, or undefined with no exchange in the window. */
  estimate(nowUs: number): ClockEstimate | undefined {
    let best: ClockSample | undefined;
    let bestMisfit = Infinity;
    for (const sample of this.samples) {
      if (sample.atUs < nowUs - this.windowUs) continue;
      const misfit = Math.abs(sample.rttUs - (sample.answerTransitUs ?? 0)) / 2 + this.drift(sample, nowUs);
      if (misfit < bestMisfit) {
        best = sample;
        bestMisfit = misfit;
      }
    }
    if (!best) return undefined;
    return {
      offsetUs: best.offsetUs + this.driftRate * (nowUs - best.atUs),
      uncertaintyUs: halfWidth(best) + this.drift(best, nowUs),
      samples: this.samples.length,
      steps: this.steps,
    };
  }

  private drift(sample: ClockSample, nowUs: number): number {
    return Math.max(0, nowUs - sample.atUs) * this.driftDoubt;
  }

  private expire(nowUs: number): void {
    const oldest = nowUs - this.windowUs;
    if (this.samples.length > 0 && this.samples[0]!.atUs < oldest) {
      this.samples = this.samples.filter((s) => s.atUs >= oldest);
      this.updateDriftRate();
    }
    this.inconsistent = this.inconsistent.filter((s) => s.atUs >= oldest);
  }
}

/** Half the width of the interval around the sample's offset that surely holds the true one. */
function halfWidth(sample: ClockSample): number {
  return (sample.rttUs + Math.min(sample.answerTransitUs ?? 0, sample.rttUs)) / 2;
}
