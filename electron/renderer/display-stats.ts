import { RateWindow } from '../../common/stats/rate-window';

interface Sample {
  atMs: number;
  latencyMs: number;
  /** Taken with the sender's clock offset known (docs/protocol.md, "Clock offsets"). */
  corrected: boolean;
}

const KEEP_MS = 10_000;
const PERCENTILE_WINDOW_MS = 2_000;

/** What the screen shows for one stream: displayed fps, and capture-to-display latency when painted. */
export class DisplayStats {
  private readonly rate = new RateWindow(2000);
  private readonly samples: Sample[] = [];
  displayed = 0;

  /** `latencyMs` undefined: the frame has no capture time; it counts for fps only. */
  record(nowMs: number, latencyMs: number | undefined, corrected: boolean): void {
    this.displayed++;
    this.rate.record(nowMs);
    if (latencyMs !== undefined) this.samples.push({ atMs: nowMs, latencyMs, corrected });
    while (this.samples.length > 0 && this.samples[0]!.atMs < nowMs - KEEP_MS) this.samples.shift();
  }

  fps(nowMs: number): number {
    return this.rate.rates(nowMs).perSecond;
  }

  /**
   * p50/p99 over the last two seconds; undefined before the first painted frame. Corrected ones if
   * the window has any: latencies across two clocks (seconds off, maybe) never mix into them.
   */
  latency(nowMs: number): { p50: number; p99: number; corrected: boolean } | undefined {
    const window = this.samples.filter((s) => s.atMs >= nowMs - PERCENTILE_WINDOW_MS);
    const corrected = window.some((s) => s.corrected);
    const recent = window.filter((s) => s.corrected === corrected).map((s) => s.latencyMs);
    if (recent.length === 0) return undefined;
    recent.sort((a, b) => a - b);
    const at = (p: number): number => recent[Math.min(recent.length - 1, Math.floor((p / 100) * recent.length))]!;
    return { p50: at(50), p99: at(99), corrected };
  }

  /** Latencies of the last `spanMs`, oldest first, with their times: for the sparkline. */
  history(nowMs: number, spanMs: number): readonly Sample[] {
    const span = this.samples.filter((s) => s.atMs >= nowMs - spanMs);
    const corrected = span.some((s) => s.corrected);
    return span.filter((s) => s.corrected === corrected);
  }
}
