import type { LinkSummary } from '../common/sockets/link-monitor';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { RateWindow } from '../common/stats/rate-window';
import { formatBytesPerSecond } from '../common/stats/stats-reporter';
import { round2 } from '../common/stats/stream-stats';

export interface SenderSummary {
  topic: string;
  endpoint: string;
  frames: number;
  fps: number;
  bytes: number;
  bytesPerSecond: number;
  /** Encode time per frame (sharp, including colour conversion), ms. */
  encodeMs: { mean: number; p50: number; p99: number };
  /** Frames captured but not sent because no receiver had room (network or receivers too slow). */
  skipped: number;
  /** req: replies that did not come within --reply-timeout (each reopened the socket). */
  timeouts: number;
  /** req: frames the receiver answered with an error instead of OK. */
  refused: number;
  /** No one subscribes (PUB) or is connected (PUSH): nothing is captured or encoded. */
  idle: boolean;
  /** --passthrough: source frames that came without Huffman tables and got the standard ones. */
  huffmanTablesInserted: number;
  /** --passthrough: source frames whose JPEG headers were broken, dropped. */
  broken: number;
  /** PUB: what the receivers' links carry, from their link reports (docs/protocol.md, "Link reports"). */
  link?: LinkSummary;
  /** --adapt: the JPEG quality and scale (1 = full size) frames are encoded at now. */
  adapt?: { quality: number; scale: number };
  /** CURVE handshakes refused because the client's key is not in --curve-allow. */
  denied: number;
}

/** What a sender counts about its own stream. */
export class SenderStats {
  frames = 0;
  bytes = 0;
  skipped = 0;
  timeouts = 0;
  refused = 0;
  idle = false;
  huffmanTablesInserted = 0;
  broken = 0;
  /** Where link summaries come from (a PUB sender's LinkMonitor). */
  linkSource: ((nowMs: number) => LinkSummary) | undefined;
  /** Where --adapt's current settings come from. */
  adaptSource: (() => { quality: number; scale: number }) | undefined;
  denied = 0;
  private encodeTotalUs = 0;
  private encodeCount = 0;
  private recentEncodeTotalUs = 0;
  private recentEncodeCount = 0;
  private firstSentMs: number | undefined;
  private lastSentMs = 0;
  private readonly encode = new LatencyHistogram();
  private readonly recentEncode = new LatencyHistogram();
  private readonly rate: RateWindow;

  constructor(
    private readonly topic: string,
    private readonly endpoint: string,
    rateWindowMs: number,
  ) {
    this.rate = new RateWindow(rateWindowMs);
  }

  onEncoded(encodeUs: number): void {
    this.encode.recordMicros(encodeUs);
    this.recentEncode.recordMicros(encodeUs);
    this.encodeTotalUs += encodeUs;
    this.encodeCount++;
    this.recentEncodeTotalUs += encodeUs;
    this.recentEncodeCount++;
  }

  onSent(bytes: number, nowMs: number): void {
    this.frames++;
    this.bytes += bytes;
    this.firstSentMs ??= nowMs;
    this.lastSentMs = nowMs;
    this.rate.record(nowMs, bytes);
  }

  onSkipped(): void {
    this.skipped++;
  }

  live(nowMs: number): SenderSummary {
    const { perSecond, bytesPerSecond } = this.rate.rates(nowMs);
    const summary = this.summarise(perSecond, bytesPerSecond, this.recentEncode, this.recentEncodeTotalUs, this.recentEncodeCount);
    const link = this.linkSource?.(nowMs);
    if (link) summary.link = link;
    this.recentEncode.reset();
    this.recentEncodeTotalUs = 0;
    this.recentEncodeCount = 0;
    return summary;
  }

  final(): SenderSummary {
    const spanMs = this.firstSentMs === undefined ? 0 : this.lastSentMs - this.firstSentMs;
    const fps = this.frames > 1 && spanMs > 0 ? ((this.frames - 1) * 1000) / spanMs : 0;
    const summary = this.summarise(fps, (this.bytes / Math.max(1, this.frames)) * fps, this.encode, this.encodeTotalUs, this.encodeCount);
    const link = this.linkSource?.(performance.now());
    if (link) summary.link = link;
    return summary;
  }

  private summarise(fps: number, bytesPerSecond: number, encode: LatencyHistogram, totalUs: number, count: number): SenderSummary {
    const { p50, p99 } = encode.percentilesMs();
    return {
      topic: this.topic,
      endpoint: this.endpoint,
      frames: this.frames,
      fps: round2(fps),
      bytes: this.bytes,
      bytesPerSecond: Math.round(bytesPerSecond),
      encodeMs: { mean: count ? Math.round(totalUs / count) / 1000 : 0, p50, p99 },
      skipped: this.skipped,
      timeouts: this.timeouts,
      refused: this.refused,
      idle: this.idle,
      huffmanTablesInserted: this.huffmanTablesInserted,
      broken: this.broken,
      ...(this.adaptSource ? { adapt: this.adaptSource() } : {}),
      denied: this.denied,
    };
  }
}

/** The live stats line of a sender. */
export function liveLine(s: SenderSummary): string {
  const replies = s.timeouts || s.refused ? ` timeouts ${s.timeouts} refused ${s.refused}` : '';
  const denied = s.denied ? ` denied ${s.denied}` : '';
  if (s.idle) return `${s.topic} → ${s.endpoint} | idle: no receivers | sent ${s.frames} skipped ${s.skipped}${replies}${denied}`;
  return `${s.topic} → ${s.endpoint} | ${s.fps.toFixed(1)} fps ${formatBytesPerSecond(s.bytesPerSecond)} | encode ${s.encodeMs.mean.toFixed(2)} ms | sent ${s.frames} skipped ${s.skipped}${replies}${denied}${linkPart(s)}`;
}

/** What the receivers' link reports say, when there is news: a link that is the limit, or --adapt at work. */
function linkPart(s: SenderSummary): string {
  const adapt = s.adapt ? ` | adapt q${s.adapt.quality}${s.adapt.scale < 1 ? ` ×${s.adapt.scale}` : ''}` : '';
  const link = s.link?.limited
    ? ` | link-limited: ${Math.round(s.link.deliveredFps)} of ${Math.round(s.link.offeredFps)} fps, link ~${formatBytesPerSecond(s.link.linkBytesPerSecond)}, ${s.link.skipped} skipped for it`
    : '';
  return link + adapt;
}
