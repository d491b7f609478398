import { RateWindow } from '../../common/stats/rate-window';

interface Sample {
  atMs: number;
  latencyMs: number;
}

const KEEP_MS = 10_000;
const PERCENTILE_WINDOW_MS = 2_000;

/** What the screen shows for one stream: displayed fps, and capture-to-display latency when painted. */
export class DisplayStats {
  private readonly rate = new RateWindow(2000);
  private readonly samples: Sample[] = [];
  displayed = 0;

  /** `latencyMs` undefined: the frame has no capture time; it counts for fps only. */
  record(nowMs: number, latencyMs: number | undefined): void {
    this.displayed++;
    this.rate.record(nowMs);
    if (latencyMs !== undefined) this.samples.push({ atMs: nowMs, latencyMs });
    while (this.samples.length > 0 && this.samples[0]!.atMs < nowMs - KEEP_MS) this.samples.shift();
  }

  fps(nowMs: number): number {
    return this.rate.rates(nowMs).perSecond;
  }

  /** p50/p99 over the last two seconds; undefined before the first painted frame. */
  latency(nowMs: number): { p50: number; p99: number } | undefined {
    const recent = this.samples.filter((s) => s.atMs >= nowMs - PERCENTILE_WINDOW_MS).map((s) => s.latencyMs);
    if (recent.length === 0) return undefined;
    recent.sort((a, b) => a - b);
    const at = (p: number): number => recent[Math.min(recent.length - 1, Math.floor((p / 100) * recent.length))]!;
    return { p50: at(50), p99: at(99) };
  }

  /** Latencies of the last `spanMs`, oldest first, with their times: for the sparkline. */
  history(nowMs: number, spanMs: number): readonly Sample[] {
    return this.samples.filter((s) => s.atMs >= nowMs - spanMs);
  }
}
