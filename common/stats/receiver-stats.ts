import type { RejectReason } from '../errors';
import type { Frame } from '../protocol';
import { LatencyHistogram, type Percentiles } from './latency-histogram';
import { round2, StreamStats, type StreamSummary } from './stream-stats';

export interface ReceiverSummary {
  frames: number;
  fps: number;
  bytes: number;
  bytesPerSecond: number;
  latencyMs: Percentiles;
  dropped: number;
  skipped: number;
  saved: number;
  saveErrors: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
  /** CURVE handshakes refused because the client's key is not in --curve-allow. */
  denied: number;
  streams: Record<string, StreamSummary>;
}

/** Everything a receiver counts, across all the streams it sees. */
export class ReceiverStats {
  private readonly streams = new Map<string, StreamStats>();
  rejected = 0;
  saveErrors = 0;
  denied = 0;
  readonly rejectedByReason: Partial<Record<RejectReason, number>> = {};

  constructor(private readonly rateWindowMs: number) {}

  stream(topic: string): StreamStats {
    let stats = this.streams.get(topic);
    if (!stats) {
      stats = new StreamStats(this.rateWindowMs);
      this.streams.set(topic, stats);
    }
    return stats;
  }

  onFrame(frame: Frame, receiveUs: number): StreamStats {
    const stats = this.stream(frame.topic);
    stats.onFrame(frame.header, frame.jpeg.length, receiveUs);
    return stats;
  }

  onRejected(reason: RejectReason): void {
    this.rejected++;
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
  }

  /** Since the previous live() call for latency; over the trailing window for rates. */
  live(nowMs: number): ReceiverSummary {
    const summary = this.summarise(nowMs, false);
    for (const stats of this.streams.values()) stats.recentLatency.reset();
    return summary;
  }

  /** The whole run: what --stats-json writes at exit. */
  final(nowMs: number): ReceiverSummary {
    return this.summarise(nowMs, true);
  }

  private summarise(nowMs: number, final: boolean): ReceiverSummary {
    const streams: Record<string, StreamSummary> = {};
    let frames = 0, bytes = 0, fps = 0, bytesPerSecond = 0, dropped = 0, skipped = 0, saved = 0;
    for (const [topic, stats] of [...this.streams].sort(([a], [b]) => a.localeCompare(b))) {
      const s = stats.summary(nowMs, final ? stats.latency : stats.recentLatency, final);
      streams[topic] = s;
      frames += s.frames;
      bytes += s.bytes;
      fps += s.fps;
      bytesPerSecond += s.bytesPerSecond;
      dropped += s.dropped;
      skipped += s.skipped;
      saved += s.saved;
    }
    return {
      frames,
      fps: round2(fps),
      bytes,
      bytesPerSecond: Math.round(bytesPerSecond),
      latencyMs: LatencyHistogram.merged([...this.streams.values()].map((s) => (final ? s.latency : s.recentLatency))).percentilesMs(),
      dropped,
      skipped,
      saved,
      saveErrors: this.saveErrors,
      rejected: this.rejected,
      rejectedByReason: { ...this.rejectedByReason },
      denied: this.denied,
      streams,
    };
  }
}
