import { DEFAULTS } from '../defaults';
import type { RejectReason } from '../errors';
import type { Frame } from '../wire/protocol';
import { ReceiverStats } from '../stats/receiver-stats';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from '../stats/stream-bounds';
import { compactFrame } from './compact-frame';
import type { ClockEstimate } from '../stats/clock-offset';

/** The newest frame of one stream, with the message parts it arrived in (to send on unchanged). */
export interface CachedFrame {
  frame: Frame;
  /** The message as received; absent where a decoded frame was all there was. */
  parts: readonly Buffer[] | undefined;
  receiveUs: number;
}

/** idle: no frame lately, and nobody is asking for the stream (an on-demand camera sends nothing then). */
export type StreamState = 'live' | 'stalled' | 'idle';

/** One stream as /streams.json shows it. */
export interface StreamInfo {
  topic: string;
  state: StreamState;
  width: number;
  height: number;
  fps: number;
  bytesPerSecond: number;
  latencyMs: { p50: number; p99: number };
  /** latencyMs is corrected by the measured offset of the sender's clock (docs/protocol.md, "Clock offsets"). */
  latencyCorrected: boolean;
  /** The sender's clock minus this process's, ms, and the ± bound on it; null when not measured. */
  clockOffsetMs: number | null;
  clockUncertaintyMs: number | null;
  /** Wall-clock time of the newest frame, ISO 8601. */
  lastFrameTime: string;
  lastFrameAgeMs: number;
  frames: number;
  bytes: number;
  dropped: number;
  skipped: number;
  duplicates: number;
  sessions: number;
  /** The newest frame is a recording played back (docs/protocol.md, "Replays"). */
  replay: boolean;
}

type FrameListener = (cached: CachedFrame) => void;

/**
 * Every stream a process has seen: its stats and its newest frame (the ZeroMQ guide's last-value
 * cache). The hub's forwarder and the viewer's gateway fill it; HTTP routes read it and listen
 * for new frames. One frame per topic is kept, by reference, except that small ones are copied
 * (common/web/compact-frame.ts). Streams are those its stats track (--max-streams, --stream-ttl): a
 * forgotten stream's frame goes with its stats.
 */
export class StreamCatalog {
  readonly stats: ReceiverStats;
  private readonly newest = new Map<string, CachedFrame>();
  private readonly listeners = new Map<string, Set<FrameListener>>();
  /**
   * Topics someone asked for by name (a subscribe), whose first frame may not have come yet, with
   * when they were last asked for, oldest first: kept for --stream-ttl, --max-streams at most.
   */
  private readonly expected = new Map<string, number>();
  /** Topics configured by name (--topic), expected for as long as the process runs. */
  private readonly configured = new Set<string>();

  constructor(
    private readonly stallAfterMs: number = DEFAULTS.viewerStallMs,
    private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS,
  ) {
    this.stats = new ReceiverStats(DEFAULTS.rateWindowMs, limits);
    this.stats.bounds.onForget((topic) => this.newest.delete(topic));
  }

  /** Counts the frame and caches it; false (and nothing cached) for a repeat (docs/protocol.md). */
  add(frame: Frame, parts: readonly Buffer[] | undefined, receiveUs: number, clock?: ClockEstimate): boolean {
    if (!this.stats.onFrame(frame, receiveUs, clock)) return false;
    const cached = { ...compactFrame(frame, parts), receiveUs };
    this.newest.set(frame.topic, cached);
    for (const listener of this.listeners.get(frame.topic) ?? []) listener(cached);
    return true;
  }

  onRejected(reason: RejectReason): void {
    this.stats.onRejected(reason);
  }

  /**
   * Notes a stream that was asked for by name, so it is known (and waited for) before its first
   * frame: for --stream-ttl since it was last asked for, or for good if it was `configured`.
   */
  expect(topic: string, configured = false): void {
    if (configured) {
      this.configured.add(topic);
      return;
    }
    const nowMs = performance.now();
    this.expected.delete(topic);
    this.expected.set(topic, nowMs);
    this.forgetExpected(nowMs);
  }

  /** A stream that has sent a frame or was asked for by name. */
  knows(topic: string): boolean {
    this.forgetExpected(performance.now());
    return this.newest.has(topic) || this.expected.has(topic) || this.configured.has(topic);
  }

  private forgetExpected(nowMs: number): void {
    for (const [topic, atMs] of this.expected) {
      if (nowMs - atMs < this.limits.ttlMs && this.expected.size <= this.limits.maxStreams) break;
      this.expected.delete(topic);
    }
  }

  latest(topic: string): CachedFrame | undefined {
    return this.newest.get(topic);
  }

  /** The newest frame of `topic` if it came within the stall window. */
  fresh(topic: string, nowUs: number): CachedFrame | undefined {
    const cached = this.newest.get(topic);
    return cached && nowUs - cached.receiveUs <= this.stallAfterMs * 1000 ? cached : undefined;
  }

  /** Newest frames whose topic starts with `prefix` (SUB matching); '' matches all. */
  *matching(prefix: string): Iterable<CachedFrame> {
    for (const [topic, cached] of this.newest) if (topic.startsWith(prefix)) yield cached;
  }

  /** Calls `listener` with each new frame of `topic`; returns the unsubscribe function. */
  listen(topic: string, listener: FrameListener): () => void {
    let set = this.listeners.get(topic);
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(topic);
    };
  }

  /**
   * Every tracked stream, by topic: rates and counts read fresh; latency over the whole run (the
   * live histograms belong to the stats reporter).
   */
  describe(nowMs: number, isWatched: (topic: string) => boolean = () => true): StreamInfo[] {
    this.stats.bounds.expire();
    return [...this.stats.tracked()].sort(([a], [b]) => a.localeCompare(b)).map(([topic, stats]) => {
      const s = stats.summary(nowMs);
      const age = s.lastFrameAgeMs ?? 0;
      return {
        topic,
        state: age <= this.stallAfterMs ? 'live' : isWatched(topic) ? 'stalled' : 'idle',
        width: s.width,
        height: s.height,
        fps: s.fps,
        bytesPerSecond: s.bytesPerSecond,
        latencyMs: { p50: s.latencyMs.p50, p99: s.latencyMs.p99 },
        latencyCorrected: s.latencyCorrected,
        clockOffsetMs: s.clockOffsetMs,
        clockUncertaintyMs: s.clockUncertaintyMs,
        lastFrameTime: new Date(nowMs - age).toISOString(),
        lastFrameAgeMs: age,
        frames: s.frames,
        bytes: s.bytes,
        dropped: s.dropped,
        skipped: s.skipped,
        duplicates: s.duplicates,
        sessions: s.sessions,
        replay: this.newest.get(topic)?.frame.header.replay === true,
      };
    });
  }
}
