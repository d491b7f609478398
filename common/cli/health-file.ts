import { renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { DEFAULTS } from '../defaults';

/**
 * Proof of life for a supervisor (Docker's HEALTHCHECK, a cron probe): while a program's event loop
 * turns, this file is rewritten every interval. A wedged or stopped program leaves it stale or
 * absent, which common/cli/health-check.ts reports as unhealthy.
 */
export class HealthFile {
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly program: string,
  ) {
    this.write();
    this.timer = setInterval(() => this.write(), DEFAULTS.healthIntervalMs);
    this.timer.unref();
  }

  /** Starts refreshing `path`; undefined when no path is configured. */
  static start(path: string | undefined, program: string): HealthFile | undefined {
    return path ? new HealthFile(path, program) : undefined;
  }

  private write(): void {
    const temp = `${this.path}.${process.pid}.tmp`;
    try {
      // Tiny and synchronous: it must never queue behind encodes on libuv's pool.
      writeFileSync(temp, `${JSON.stringify({ program: this.program, pid: process.pid, updatedMs: Date.now() })}\n`);
      renameSync(temp, this.path);
    } catch {
      // An unwritable health file makes the check fail, which is the report; the program goes on.
    }
  }

  /** Stops refreshing and removes the file: a program that has stopped is not healthy. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    rmSync(this.path, { force: true });
  }
}

/**
 * The reading side, for deploy/docker/health-check.ts: undefined if the file was refreshed within
 * the last few intervals, else why the program counts as unhealthy.
 */
export function checkHealthFile(path: string, nowMs = Date.now()): string | undefined {
  let ageMs: number;
  try {
    ageMs = nowMs - statSync(path).mtimeMs;
  } catch {
    return `${path} does not exist: the program is not running, or not started yet`;
  }
  const limitMs = DEFAULTS.healthIntervalMs * DEFAULTS.healthStaleIntervals;
  return ageMs > limitMs ? `${path} was last refreshed ${(ageMs / 1000).toFixed(1)} s ago: the program is stuck` : undefined;
}
