import { DEFAULTS } from '../defaults';
import { LinkReportError } from '../errors';
import { decodeLinkReport, type LinkReport } from '../wire/link-report';
import { round2 } from '../stats/stream-stats';

/** What one receiver's reports say about its link over the recent window. */
export interface ReceiverLink {
  receiver: number;
  /** Frames per second that reached it. */
  fps: number;
  /** Frames per second the sender numbered (sent or skipped) over the same span. */
  offeredFps: number;
  /** JPEG bytes per second that reached it: the link's rate while it is link-limited, a lower bound otherwise. */
  bytesPerSecond: number;
  /** Frames of this session that never reached it (skipped for its link), since it joined. */
  skipped: number;
  limited: boolean;
}

export interface LinkSummary {
  /** Receivers that reported within DEFAULTS.linkReportExpiryMs, slowest first. */
  receivers: ReceiverLink[];
  /** Some receiver gets fewer than DEFAULTS.linkLimitedShare of the frames. */
  limited: boolean;
  /** The slowest receiver's numbers (0 and false with no reporting receiver). */
  deliveredFps: number;
  offeredFps: number;
  linkBytesPerSecond: number;
  skipped: number;
  /** Upstream messages that claimed to be link reports and did not parse. */
  badReports: number;
}

interface Sample {
  atMs: number;
  frames: number;
  bytes: number;
  dropped: number;
}

/**
 * The sender's half of the return path: reads the link reports zerocam receivers send upstream
 * (common/wire/link-report.ts) and tells, per receiver, how much of the stream its link carries. Only
 * reports for this sender's own topic and session count: a receiver sends every sender it is
 * connected to the reports of every stream it takes.
 */
export class LinkMonitor {
  private readonly samples = new Map<number, Sample[]>();
  private badReports = 0;

  constructor(
    private readonly topic: string,
    private readonly session: number,
    private readonly windowMs: number = DEFAULTS.rateWindowMs,
  ) {}

  /**
   * One upstream message that starts with the link report magic. Malformed ones are counted, never thrown.
   * Returns the report if it is about this sender's topic and session.
   */
  onMessage(message: Buffer, nowMs: number): LinkReport | undefined {
    let report: LinkReport;
    try {
      report = decodeLinkReport(message);
    } catch (error) {
      if (!(error instanceof LinkReportError)) throw error;
      this.badReports++;
      return undefined;
    }
    if (report.topic !== this.topic || report.session !== this.session) return undefined;
    const samples = this.samples.get(report.receiver) ?? [];
    samples.push({ atMs: nowMs, frames: report.frames, bytes: report.bytes, dropped: report.dropped });
    // Keep one sample older than the window, so the window is always spanned.
    while (samples.length > 2 && samples[1]!.atMs <= nowMs - this.windowMs) samples.shift();
    this.samples.set(report.receiver, samples);
    return report;
  }

  /** The links over the last `windowMs` (default: the stats window). */
  summary(nowMs: number, windowMs = this.windowMs): LinkSummary {
    const receivers: ReceiverLink[] = [];
    for (const [receiver, samples] of this.samples) {
      const newest = samples[samples.length - 1]!;
      if (newest.atMs < nowMs - DEFAULTS.linkReportExpiryMs) {
        this.samples.delete(receiver);
        continue;
      }
      const oldest = samples.findLast((s) => s.atMs <= newest.atMs - windowMs) ?? samples[0]!;
      const seconds = (newest.atMs - oldest.atMs) / 1000;
      if (seconds <= 0) continue;
      const frames = newest.frames - oldest.frames;
      const offered = frames + newest.dropped - oldest.dropped;
      receivers.push({
        receiver,
        fps: round2(frames / seconds),
        offeredFps: round2(offered / seconds),
        bytesPerSecond: Math.round((newest.bytes - oldest.bytes) / seconds),
        skipped: newest.dropped,
        limited: offered > 0 && frames < offered * DEFAULTS.linkLimitedShare,
      });
    }
    receivers.sort((a, b) => a.fps / Math.max(a.offeredFps, 1e-9) - b.fps / Math.max(b.offeredFps, 1e-9));
    const slowest = receivers[0];
    return {
      receivers,
      limited: receivers.some((r) => r.limited),
      deliveredFps: slowest?.fps ?? 0,
      offeredFps: slowest?.offeredFps ?? 0,
      linkBytesPerSecond: slowest?.bytesPerSecond ?? 0,
      skipped: slowest?.skipped ?? 0,
      badReports: this.badReports,
    };
  }
}
