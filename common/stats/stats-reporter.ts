import type { Writable } from 'node:stream';

export interface LiveReport<T> {
  record: T;
  line: string;
}

type Output = Writable & { isTTY?: boolean };

/**
 * Prints live stats about once a second: one line rewritten in place on a terminal, one JSON
 * object per line when piped (for jq, log shippers and tests).
 */
export class StatsReporter<T> {
  private timer: NodeJS.Timeout | undefined;
  private wroteLiveLine = false;

  constructor(
    private readonly out: Output,
    private readonly intervalMs: number,
    private readonly report: () => LiveReport<T>,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.print(), this.intervalMs);
    this.timer.unref();
  }

  print(): void {
    const { record, line } = this.report();
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${line}`);
      this.wroteLiveLine = true;
    } else {
      this.out.write(`${JSON.stringify(record)}\n`);
    }
  }

  /** Stops printing; idempotent. Ends the live line so what follows starts on a fresh one. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.wroteLiveLine) this.out.write('\n');
    this.wroteLiveLine = false;
  }
}

export function formatBytesPerSecond(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1e6) return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
  return `${(bytesPerSecond / 1e3).toFixed(0)} kB/s`;
}
