import { DEFAULTS } from '../defaults';
import { warnOncePerReason, type Logger } from '../log';

/** --stream-ttl and --max-streams: how long and how many streams a process keeps state for. */
export interface StreamLimits {
  /** A stream that has sent nothing for this long is forgotten: its stats, cached frame and metrics. */
  ttlMs: number;
  /** Streams tracked at once; a frame of a new stream beyond this is refused and counted. */
  maxStreams: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { ttlMs: DEFAULTS.streamTtlMs, maxStreams: DEFAULTS.maxStreams };

/** Expiry is checked on every frame and read, and at least this often while any stream is tracked. */
const MAX_SWEEP_INTERVAL_MS = 10_000;

/**
 * The streams a process keeps per-stream state for (stats, a cached frame, link monitors, a viewer's
 * tile), in the order of their newest frame. Topics are names anyone can make up (a recreated camera
 * container gets a new default topic), so the set is bounded in time (`ttlMs`) and in size
 * (`maxStreams`). Whoever keeps state per stream registers with onForget() and drops it there.
 *
 * admit() costs O(1) per frame: a Map holds the streams oldest-first, so expiry looks only at streams
 * that did expire and the first one that did not.
 */
export class StreamBounds {
  private readonly lastFrameMs = new Map<string, number>();
  private readonly forgetListeners: ((topic: string) => void)[] = [];
  private readonly refuseListeners: ((topic: string) => void)[] = [];
  private sweeper: NodeJS.Timeout | undefined;
  /** Frames refused because --max-streams streams were tracked when they came. */
  refusedFrames = 0;
  /** Streams forgotten after --stream-ttl without a frame. */
  forgottenStreams = 0;

  constructor(
    readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Streams tracked now. */
  get size(): number {
    return this.lastFrameMs.size;
  }

  has(topic: string): boolean {
    return this.lastFrameMs.has(topic);
  }

  /**
   * A frame of `topic` came: true if its stream is tracked (now newest), false if it is new and
   * there is no room for it (the frame is counted as refused and must be dropped).
   */
  admit(topic: string): boolean {
    const nowMs = this.now();
    this.expire(nowMs);
    if (this.lastFrameMs.delete(topic)) {
      this.lastFrameMs.set(topic, nowMs);
      return true;
    }
    if (this.lastFrameMs.size >= this.limits.maxStreams) {
      this.refusedFrames++;
      for (const listener of this.refuseListeners) listener(topic);
      return false;
    }
    this.lastFrameMs.set(topic, nowMs);
    this.startSweeping();
    return true;
  }

  /** Forgets every stream whose newest frame is older than the TTL; returns how many. */
  expire(nowMs: number = this.now()): number {
    let forgotten = 0;
    for (const [topic, atMs] of this.lastFrameMs) {
      if (nowMs - atMs < this.limits.ttlMs) break;
      this.forget(topic);
      forgotten++;
    }
    return forgotten;
  }

  /** Forgets `topic` now, if it is tracked, and tells every onForget() listener. */
  forget(topic: string): void {
    if (!this.lastFrameMs.delete(topic)) return;
    this.forgottenStreams++;
    for (const listener of this.forgetListeners) listener(topic);
    if (this.lastFrameMs.size === 0) this.stopSweeping();
  }

  /** `listener` drops whatever it keeps for a stream that is forgotten. */
  onForget(listener: (topic: string) => void): void {
    this.forgetListeners.push(listener);
  }

  /** `listener` hears of each refused frame (warnOnFirstRefusal logs the first). */
  onRefused(listener: (topic: string) => void): void {
    this.refuseListeners.push(listener);
  }

  /** Stops the expiry timer (it also stops by itself once no stream is tracked). Idempotent. */
  close(): void {
    this.stopSweeping();
  }

  /**
   * Streams expire while nothing happens too (an idle hub with no stats and no web clients), so a
   * timer sweeps while any is tracked. It does not keep the process alive.
   */
  private startSweeping(): void {
    if (this.sweeper) return;
    const everyMs = Math.min(MAX_SWEEP_INTERVAL_MS, Math.max(10, this.limits.ttlMs / 4));
    this.sweeper = setInterval(() => this.expire(), everyMs);
    this.sweeper.unref();
  }

  private stopSweeping(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}

/** Logs the first refused frame of `bounds`, once (the rest are counted in the stats, as refused). */
export function warnOnFirstRefusal(bounds: StreamBounds, log: Logger, where = ''): void {
  const warnFirst = warnOncePerReason(log);
  bounds.onRefused((topic) =>
    warnFirst(
      'too-many-streams',
      `${where}refused a frame of a new stream "${topic}": ${bounds.limits.maxStreams} streams are tracked already (--max-streams); ` +
        'frames of new streams are dropped and counted (stats: refused) until one is forgotten (--stream-ttl)',
    ),
  );
}
