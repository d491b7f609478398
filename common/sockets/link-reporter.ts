import { randomInt } from 'node:crypto';
import { nowMicros } from '../clock';
import { DEFAULTS } from '../defaults';
import { SequenceTracker } from '../stats/sequence-tracker';
import { encodeLinkReport, type LinkReport } from '../wire/link-report';
import type { Frame } from '../wire/protocol';
import { DEFAULT_STREAM_LIMITS, StreamBounds, type StreamLimits } from '../stats/stream-bounds';

interface StreamCounts {
  readonly sequence: SequenceTracker;
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
  private sending = false;
  private closed = false;

  constructor(
    private readonly send: (message: Buffer) => Promise<void>,
    intervalMs: number = DEFAULTS.linkReportIntervalMs,
    limits: StreamLimits = DEFAULT_STREAM_LIMITS,
    /** Hands out a clock probe for a report sent at the given time (common/sockets/clock-exchanges.ts). */
    private readonly probe?: (nowUs: number) => number,
  ) {
    this.bounds = new StreamBounds(limits);
    this.bounds.onForget((topic) => this.streams.delete(topic));
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  onFrame({ topic, header, jpeg }: Frame): void {
    if (!this.bounds.admit(topic)) return;
    let counts = this.streams.get(topic);
    if (!counts) {
      counts = { sequence: new SequenceTracker(), frames: 0, bytes: 0, dropped: 0 };
      this.streams.set(topic, counts);
    }
    const step = counts.sequence.accept(header.session, header.seq);
    // A repeat (a hub's cached frame) is not news about the link.
    if (!step) return;
    if (step.newSession) {
      counts.frames = 0;
      counts.bytes = 0;
      counts.dropped = 0;
    }
    counts.dropped += step.gap;
    counts.frames++;
    counts.bytes += jpeg.length;
  }

  /** Reports every stream seen, also one whose frames stopped coming: that is news about the link too. */
  private async flush(): Promise<void> {
    if (this.sending || this.closed) return;
    this.sending = true;
    try {
      for (const [topic, counts] of this.streams) {
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
    this.bounds.close();
  }
}
