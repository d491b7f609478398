import { LatencyHistogram, type Percentiles } from './latency-histogram';
import { RateWindow } from './rate-window';
import { SequenceTracker } from './sequence-tracker';
import type { FrameHeader } from '../wire/protocol';
import type { ClockEstimate } from './clock-offset';
import { ClockNewsTracker, type ClockNews } from './clock-news';

export interface StreamSummary {
  frames: number;
  fps: number;
  bytesPerSecond: number;
  bytes: number;
  latencyMs: Percentiles;
  /** Frames the sender numbered but that never arrived (sequence gaps). */
  dropped: number;
  /** Frames that arrived but were passed over for a newer one (newest frame wins). */
  skipped: number;
  saved: number;
  width: number;
  height: number;
  /** Sender sessions seen; more than one means the sender restarted. */
  sessions: number;
  /** Repeats discarded: frames whose seq was not above the last accepted one in the same session (docs/protocol.md). */
  duplicates: number;
  /** Milliseconds since the newest frame arrived; null before the first. */
  lastFrameAgeMs: number | null;
  /**
   * latencyMs is corrected by the measured clock offset (docs/protocol.md, "Clock offsets"); false:
   * it is receive time − capture time across two clocks, as good as their sync.
   */
  latencyCorrected: boolean;
  /** The sender's clock minus this receiver's, ms, as the newest frame knew it; null: not measured. */
  clockOffsetMs: number | null;
  /** The offset is within ± this, ms: half the minimum round trip (plus drift since); null: not measured. */
  clockUncertaintyMs: number | null;
  /** Steps of the sender's clock detected. */
  clockSteps: number;
}

/** What one receiver knows about one stream (topic). */
export class StreamStats {
  frames = 0;
  bytes = 0;
  dropped = 0;
  skipped = 0;
  saved = 0;
  sessions = 0;
  duplicates = 0;
  width = 0;
  height = 0;
  private readonly sequence = new SequenceTracker();
  private firstReceiveUs: number | undefined;
  private lastReceiveUs = 0;
  private readonly rate: RateWindow;
  /** Whole-run latency. */
  readonly latency = new LatencyHistogram();
  /** Latency since the last live report; reset by the reporter. */
  readonly recentLatency = new LatencyHistogram();
  /**
   * Frames that came with no clock offset (docs/protocol.md, "Clock offsets") go here, raw, instead:
   * a stream's figures are its corrected ones as soon as it has any, never a mix of both.
   */
  readonly uncorrectedLatency = new LatencyHistogram();
  readonly recentUncorrectedLatency = new LatencyHistogram();
  /** The newest frame's clock estimate. */
  clock: ClockEstimate | undefined;
  private readonly clockNews = new ClockNewsTracker();
  /** What the newest frame's estimate said that is worth a warning, if anything (ReceiverStats passes it on). */
  newsOfClock: ClockNews | undefined;

  constructor(rateWindowMs: number) {
    this.rate = new RateWindow(rateWindowMs);
  }

  /**
   * Counts a frame, or discards it as a repeat (returns false): within one session, a seq that is
   * not above the last accepted one was seen before, e.g. a hub's last-frame cache sent it again.
   */
  onFrame(header: FrameHeader, bytes: number, receiveUs: number, clock?: ClockEstimate): boolean {
    const step = this.sequence.accept(header.session, header.seq);
    if (!step) {
      this.duplicates++;
      return false;
    }
    this.frames++;
    this.bytes += bytes;
    this.width = header.width;
    this.height = header.height;
    if (step.newSession) this.sessions++;
    this.dropped += step.gap;
    this.firstReceiveUs ??= receiveUs;
    this.lastReceiveUs = receiveUs;
    // capture_us 0: the source gave no capture time (imagezmq), so there is no latency to record.
    // A replay's capture_us is hours old (its original capture time): its latency is from send_us.
    const sinceUs = header.replay ? header.sendUs : header.captureUs;
    this.clock = clock;
    this.newsOfClock = this.clockNews.onEstimate(header.session, clock);
    if (sinceUs !== 0) {
      // Capture (or send) time moved onto this receiver's clock: + (sender's clock − ours).
      const latencyUs = receiveUs - sinceUs + (clock?.offsetUs ?? 0);
      (clock ? this.latency : this.uncorrectedLatency).recordMicros(latencyUs);
      (clock ? this.recentLatency : this.recentUncorrectedLatency).recordMicros(latencyUs);
    }
    this.rate.record(receiveUs / 1000, bytes);
    return true;
  }

  /** The latency to report, whole run (final) or since the last reset: corrected if there is any. */
  reportedLatency(final: boolean): { histogram: LatencyHistogram; corrected: boolean } {
    const corrected = final ? this.latency : this.recentLatency;
    const raw = final ? this.uncorrectedLatency : this.recentUncorrectedLatency;
    return corrected.count > 0 || raw.count === 0 ? { histogram: corrected, corrected: corrected.count > 0 } : { histogram: raw, corrected: false };
  }

  /** Starts the next live interval's latency. */
  resetRecentLatency(): void {
    this.recentLatency.reset();
    this.recentUncorrectedLatency.reset();
  }

  /** When the newest frame arrived, epoch µs; undefined before the first. */
  get lastFrameUs(): number | undefined {
    return this.firstReceiveUs === undefined ? undefined : this.lastReceiveUs;
  }

  /** Frames per second from the first frame to the last: the rate a finished run achieved. */
  averageFps(): number {
    if (this.firstReceiveUs === undefined || this.frames < 2) return 0;
    return ((this.frames - 1) * 1e6) / Math.max(1, this.lastReceiveUs - this.firstReceiveUs);
  }

  /**
   * Live view: fps and bytes/s over the trailing window, latency since the last reset of `latency`.
   * Final view (final = true): fps averaged over the whole run.
   */
  summary(nowMs: number, latency: LatencyHistogram = this.reportedLatency(true).histogram, final = false): StreamSummary {
    const windowed = this.rate.rates(nowMs);
    const perSecond = final ? this.averageFps() : windowed.perSecond;
    const bytesPerSecond = final ? (this.bytes / Math.max(1, this.frames)) * perSecond : windowed.bytesPerSecond;
    return {
      frames: this.frames,
      fps: round2(perSecond),
      bytesPerSecond: Math.round(bytesPerSecond),
      bytes: this.bytes,
      latencyMs: latency.percentilesMs(),
      dropped: this.dropped,
      skipped: this.skipped,
      saved: this.saved,
      width: this.width,
      height: this.height,
      sessions: this.sessions,
      duplicates: this.duplicates,
      lastFrameAgeMs: this.firstReceiveUs === undefined ? null : Math.max(0, Math.round(nowMs - this.lastReceiveUs / 1000)),
      latencyCorrected: latency === this.latency || latency === this.recentLatency ? latency.count > 0 : false,
      clockOffsetMs: this.clock ? Math.round(this.clock.offsetUs) / 1000 : null,
      clockUncertaintyMs: this.clock ? Math.round(this.clock.uncertaintyUs) / 1000 : null,
      clockSteps: this.clock?.steps ?? 0,
    };
  }
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
