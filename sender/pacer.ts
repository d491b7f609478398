import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Releases frames on a fixed schedule. When the pipeline falls behind, the schedule restarts
 * from now instead of bursting to catch up: a burst would only queue frames that are already late.
 */
export class Pacer {
  private next: number | undefined;

  /** fps 0 means no pacing at all: as fast as the pipeline allows. */
  constructor(private readonly fps: number) {}

  /** Resolves true when the next frame is due, false if `signal` aborted first. */
  async wait(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false;
    if (this.fps <= 0) return true;
    const interval = 1000 / this.fps;
    const now = performance.now();
    if (this.next === undefined || this.next < now - interval) this.next = now;
    const delay = this.next - now;
    this.next += interval;
    if (delay <= 0) return true;
    try {
      await sleep(delay, undefined, { signal });
      return true;
    } catch {
      return false;
    }
  }
}
