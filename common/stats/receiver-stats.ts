import type { RejectReason } from '../errors';
import type { Frame } from '../wire/protocol';
import type { ClockEstimate } from './clock-offset';
import type { ClockNews } from './clock-news';
import { LatencyHistogram, type Percentiles } from './latency-histogram';
import { DEFAULT_STREAM_LIMITS, StreamBounds, type StreamLimits } from './stream-bounds';
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
  /** Frames of new streams refused because --max-streams streams were tracked. */
  refused: number;
  /** Streams forgotten after --stream-ttl without a frame (their counts stay in the totals). */
  forgotten: number;
  /** Streams tracked now; `streams` may list fewer (live JSON lines list the busiest: statsJsonStreams). */
  streamCount: number;
  streams: Record<string, StreamSummary>;
}

/**
 * Everything a receiver counts, across the streams it tracks: at most --max-streams, each until it
 * has sent nothing for --stream-ttl (`bounds`, which whoever keeps more per stream listens to).
 */
export class ReceiverStats {
  private readonly streams = new Map<string, StreamStats>();
  readonly bounds: StreamBounds;
  /** What the streams forgotten so far counted, so that the totals still cover the whole run. */
  private readonly retired = { frames: 0, bytes: 0, dropped: 0, skipped: 0, duplicates: 0, saved: 0, latency: new LatencyHistogram() };
  rejected = 0;
  saveErrors = 0;
  fsyncs = 0;
  peerCutOffs = 0;
  denied = 0;
  readonly rejectedByReason: Partial<Record<RejectReason, number>> = {};
  private readonly clockNewsListeners: Array<(topic: string, news: ClockNews) => void> = [];

  constructor(
    private readonly rateWindowMs: number,
    limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  ) {
    this.bounds = new StreamBounds(limits);
    this.bounds.onForget((topic) => this.retire(topic));
  }

  /**
   * The stream's stats, to count on. A stream that is not tracked (refused, or forgotten since its
   * frame came) gets stats that are kept nowhere: a late count (saved, skipped) cannot bring it back.
   */
  stream(topic: string): StreamStats {
    return this.streams.get(topic) ?? new StreamStats(this.rateWindowMs);
  }

  /** The stream's stats if it is tracked. */
  find(topic: string): StreamStats | undefined {
    return this.streams.get(topic);
  }

  /** Every tracked stream and its stats, in no particular order. */
  tracked(): IterableIterator<[string, StreamStats]> {
    return this.streams.entries();
  }

  /**
   * The stream's stats, or undefined if the frame must not be saved, shown or forwarded: a repeat,
   * or a new stream refused for want of room (then `bounds.has(topic)` is false).
   */
  onFrame(frame: Frame, receiveUs: number, clock?: ClockEstimate): StreamStats | undefined {
    if (!this.bounds.admit(frame.topic)) return undefined;
    let stats = this.streams.get(frame.topic);
    if (!stats) this.streams.set(frame.topic, (stats = new StreamStats(this.rateWindowMs)));
    if (!stats.onFrame(frame.header, frame.jpeg.length, receiveUs, clock)) return undefined;
    const news = stats.newsOfClock;
    if (news) for (const listener of this.clockNewsListeners) listener(frame.topic, news);
    return stats;
  }

  /** `listener` hears when a stream's sender clock is found far off, or a clock steps (logClockNews words it). */
  onClockNews(listener: (topic: string, news: ClockNews) => void): void {
    this.clockNewsListeners.push(listener);
  }

  private retire(topic: string): void {
    const stats = this.streams.get(topic);
    if (!stats) return;
    this.streams.delete(topic);
    const { retired } = this;
    retired.frames += stats.frames;
    retired.bytes += stats.bytes;
    retired.dropped += stats.dropped;
    retired.skipped += stats.skipped;
    retired.duplicates += stats.duplicates;
    retired.saved += stats.saved;
    retired.latency.add(stats.reportedLatency(true).histogram);
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
    this.bounds.expire();
    const streams: Record<string, StreamSummary> = {};
    let { frames, bytes, dropped, skipped, duplicates, saved } = this.retired;
    let fps = 0, bytesPerSecond = 0;
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
    const latency = LatencyHistogram.merged([...(final ? [this.retired.latency] : []), ...reported.map((r) => r.histogram)]);
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
      refused: this.bounds.refusedFrames,
      forgotten: this.bounds.forgottenStreams,
      streamCount: this.streams.size,
      streams,
    };
  }
}
