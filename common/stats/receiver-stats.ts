import type { RejectReason } from '../errors';
import type { Frame } from '../wire/protocol';
import type { ClockEstimate } from './clock-offset';
import { LatencyHistogram, type Percentiles } from './latency-histogram';
import { round2, StreamStats, type StreamSummary } from './stream-stats';

export interface ReceiverSummary {
  frames: number;
  fps: number;
  bytes: number;
  bytesPerSecond: number;
  latencyMs: Percentiles;
  /** Frames behind latencyMs; 0 with frames > 0 means latency is unknown (no capture times, e.g. imagezmq). */
  latencyFrames: number;
  /** Every stream behind latencyMs has it corrected by its sender's measured clock offset (docs/protocol.md, "Clock offsets"). */
  latencyCorrected: boolean;
  dropped: number;
  skipped: number;
  /** Repeats discarded (docs/protocol.md, "Repeats and duplicates"). */
  duplicates: number;
  saved: number;
  saveErrors: number;
  /** fsync calls the recorder made (data files and index); with group commit, far fewer than frames saved. */
  fsyncs: number;
  rejected: number;
  rejectedByReason: Partial<Record<RejectReason, number>>;
  /** Connected senders libzmq cut off for good (an oversized message) that the receiver redialled. */
  peerCutOffs: number;
  /** CURVE handshakes refused because the client's key is not in --curve-allow. */
  denied: number;
  streams: Record<string, StreamSummary>;
}

/** Everything a receiver counts, across all the streams it sees. */
export class ReceiverStats {
  private readonly streams = new Map<string, StreamStats>();
  rejected = 0;
  saveErrors = 0;
  fsyncs = 0;
  peerCutOffs = 0;
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

  /** The stream's stats, or undefined if the frame is a repeat: then it must not be saved or shown. */
  onFrame(frame: Frame, receiveUs: number, clock?: ClockEstimate): StreamStats | undefined {
    const stats = this.stream(frame.topic);
    return stats.onFrame(frame.header, frame.jpeg.length, receiveUs, clock) ? stats : undefined;
  }

  onRejected(reason: RejectReason): void {
    this.rejected++;
    this.rejectedByReason[reason] = (this.rejectedByReason[reason] ?? 0) + 1;
  }

  /** Since the previous live() call for latency; over the trailing window for rates. */
  live(nowMs: number): ReceiverSummary {
    const summary = this.summarise(nowMs, false);
    for (const stats of this.streams.values()) stats.resetRecentLatency();
    return summary;
  }

  /** The whole run: what --stats-json writes at exit. */
  final(nowMs: number): ReceiverSummary {
    return this.summarise(nowMs, true);
  }

  private summarise(nowMs: number, final: boolean): ReceiverSummary {
    const streams: Record<string, StreamSummary> = {};
    let frames = 0, bytes = 0, fps = 0, bytesPerSecond = 0, dropped = 0, skipped = 0, duplicates = 0, saved = 0;
    for (const [topic, stats] of [...this.streams].sort(([a], [b]) => a.localeCompare(b))) {
      const s = stats.summary(nowMs, stats.reportedLatency(final).histogram, final);
      streams[topic] = s;
      frames += s.frames;
      bytes += s.bytes;
      fps += s.fps;
      bytesPerSecond += s.bytesPerSecond;
      dropped += s.dropped;
      skipped += s.skipped;
      duplicates += s.duplicates;
      saved += s.saved;
    }
    const reported = [...this.streams.values()].map((s) => s.reportedLatency(final));
    const latency = LatencyHistogram.merged(reported.map((r) => r.histogram));
    return {
      frames,
      fps: round2(fps),
      bytes,
      bytesPerSecond: Math.round(bytesPerSecond),
      latencyMs: latency.percentilesMs(),
      latencyFrames: latency.count,
      latencyCorrected: latency.count > 0 && reported.every((r) => r.corrected || r.histogram.count === 0),
      dropped,
      skipped,
      duplicates,
      saved,
      saveErrors: this.saveErrors,
      fsyncs: this.fsyncs,
      rejected: this.rejected,
      rejectedByReason: { ...this.rejectedByReason },
      peerCutOffs: this.peerCutOffs,
      denied: this.denied,
      streams,
    };
  }
}
