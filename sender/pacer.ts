/**
 * Releases frames on a fixed schedule. When the pipeline falls behind, the schedule restarts
 * from now instead of bursting to catch up: a burst would only queue frames that are already late.
 *
 * One plain timer per frame and one abort listener per signal: timers/promises' sleep would add an
 * AbortSignal listener, a promise chain and async-hook bookkeeping to every frame, which on a camera
 * host is main-thread work at the frame rate for nothing.
 */
export class Pacer {
  private next: number | undefined;
  /** The wait in progress, if any: its timer and how to end it. */
  private waiting: { signal: AbortSignal; timer: NodeJS.Timeout; resolve: (due: boolean) => void } | undefined;
  /** Signals already listened to, so a run's frames share one listener. */
  private readonly listening = new WeakSet<AbortSignal>();

  /** fps 0 means no pacing at all: as fast as the pipeline allows. */
  constructor(private readonly fps: number) {}

  /** Resolves true when the next frame is due, false if `signal` aborted first. */
  wait(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.fps <= 0) return Promise.resolve(true);
    const interval = 1000 / this.fps;
    const now = performance.now();
    if (this.next === undefined || this.next < now - interval) this.next = now;
    const delay = this.next - now;
    this.next += interval;
    if (delay <= 0) return Promise.resolve(true);
    if (!this.listening.has(signal)) {
      this.listening.add(signal);
      const onAbort = (): void => {
        if (this.waiting?.signal === signal) this.settle(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    }
    return new Promise((resolve) => {
      this.waiting = { signal, timer: setTimeout(() => this.settle(true), delay), resolve };
    });
  }

  private settle(due: boolean): void {
    const waiting = this.waiting;
    if (!waiting) return;
    this.waiting = undefined;
    clearTimeout(waiting.timer);
    waiting.resolve(due);
  }
}
