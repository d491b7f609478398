import { randomInt } from 'node:crypto';
import { nowMicros } from '../clock';
import { DEFAULTS } from '../defaults';
import { SequenceTracker } from '../stats/sequence-tracker';
import { encodeLinkReport, type LinkReport } from '../wire/link-report';
import type { Frame } from '../wire/protocol';
import { DEFAULT_STREAM_LIMITS, StreamBounds, type StreamLimits } from '../stats/stream-bounds';

/** While a stream's clock is not known, its reports go out this often, so an exchange completes soon. */
const EAGER_PROBE_INTERVAL_MS = 100;
/** For this long after a stream's session starts: a sender that never echoes (not zerocam) is not probed eagerly for ever. */
const EAGER_PROBE_FOR_MS = 3000;
/** Streams probed eagerly at once, at most: a burst of new streams costs no more than this many reports per tick. */
const EAGER_PROBE_STREAMS = 16;

interface StreamCounts {
  readonly sequence: SequenceTracker;
  /** When this session's first frame came (ms, monotonic). */
  sessionStartMs: number;
  /** This session's, since a report is about one sender run. */
  frames: number;
  bytes: number;
  dropped: number;
}

/**
 * The receiver's half of the return path: counts what arrives of each stream and hands a link
 * report (common/wire/link-report.ts) per stream seen to `send`, every `intervalMs`.
 * Counts are cumulative per session, so a report lost on the way costs nothing. Streams are
 * bounded as the receiver's own stats are (--stream-ttl, --max-streams): one that sent nothing for
 * the TTL is no longer reported.
 */
export class LinkReporter {
  readonly receiver = randomInt(0, 2 ** 32);
  private readonly streams = new Map<string, StreamCounts>();
  private readonly bounds: StreamBounds;
  private readonly timer: NodeJS.Timeout;
  private readonly eagerTimer: NodeJS.Timeout | undefined;
  private sending = false;
  private closed = false;

  constructor(
    private readonly send: (message: Buffer) => Promise<void>,
    intervalMs: number = DEFAULTS.linkReportIntervalMs,
    limits: StreamLimits = DEFAULT_STREAM_LIMITS,
    /** Hands out a clock probe for a report sent at the given time (common/sockets/clock-exchanges.ts). */
    private readonly probe?: (nowUs: number) => number,
    /**
     * Whether a stream's clock offset is known. A probe completes an exchange only if the echo
     * frame and the frame after it both arrive, which on a link that drops most frames takes many
     * tries: until it is known, and for EAGER_PROBE_FOR_MS of a session, reports go out every
     * EAGER_PROBE_INTERVAL_MS, so latency is corrected within about a second.
     */
    private readonly clockKnown?: (topic: string, nowUs: number) => boolean,
  ) {
    this.bounds = new StreamBounds(limits);
    this.bounds.onForget((topic) => this.streams.delete(topic));
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
    if (probe && clockKnown) {
      this.eagerTimer = setInterval(() => void this.flush(this.unknownClocks()), EAGER_PROBE_INTERVAL_MS);
      this.eagerTimer.unref();
    }
  }

  onFrame({ topic, header, jpeg }: Frame): void {
    if (!this.bounds.admit(topic)) return;
    let counts = this.streams.get(topic);
    if (!counts) {
      counts = { sequence: new SequenceTracker(), sessionStartMs: 0, frames: 0, bytes: 0, dropped: 0 };
      this.streams.set(topic, counts);
    }
    const step = counts.sequence.accept(header.session, header.seq);
    // A repeat (a hub's cached frame) is not news about the link.
    if (!step) return;
    if (step.newSession) {
      counts.sessionStartMs = performance.now();
      counts.frames = 0;
      counts.bytes = 0;
      counts.dropped = 0;
    }
    counts.dropped += step.gap;
    counts.frames++;
    counts.bytes += jpeg.length;
  }

  /** Streams in the first EAGER_PROBE_FOR_MS of their session whose clock is not known yet, at most EAGER_PROBE_STREAMS. */
  private unknownClocks(): Map<string, StreamCounts> {
    const eager = new Map<string, StreamCounts>();
    const nowMs = performance.now();
    const nowUs = nowMicros();
    for (const [topic, counts] of this.streams) {
      if (eager.size >= EAGER_PROBE_STREAMS) break;
      if (nowMs - counts.sessionStartMs < EAGER_PROBE_FOR_MS && !this.clockKnown!(topic, nowUs)) eager.set(topic, counts);
    }
    return eager;
  }

  /** Reports every stream seen (or those given), also one whose frames stopped coming: that is news about the link too. */
  private async flush(streams: ReadonlyMap<string, StreamCounts> = this.streams): Promise<void> {
    if (this.sending || this.closed || streams.size === 0) return;
    this.sending = true;
    try {
      for (const [topic, counts] of streams) {
        const report: LinkReport = { receiver: this.receiver, topic, session: counts.sequence.session, frames: counts.frames, bytes: counts.bytes, dropped: counts.dropped };
        if (this.probe) report.probe = this.probe(nowMicros());
        await this.send(encodeLinkReport(report));
        if (this.closed) return;
      }
    } finally {
      this.sending = false;
    }
  }

  /** Idempotent. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.eagerTimer);
    this.bounds.close();
  }
}
