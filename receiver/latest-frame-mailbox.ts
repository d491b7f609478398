/**
 * One slot per stream, newest frame wins: putting a frame into an occupied slot replaces the
 * older one, which is reported as skipped. A slow consumer (a slow disk) therefore always works
 * on the newest frame and never falls behind by more than one frame per stream.
 */
export class LatestFrameMailbox<T> {
  private readonly slots = new Map<string, T>();
  private waiter: (() => void) | undefined;
  private closed = false;

  /** Returns the frame it displaced, if any. */
  put(key: string, item: T): T | undefined {
    const displaced = this.slots.get(key);
    // Re-inserting moves the stream to the back, so streams take turns.
    this.slots.delete(key);
    this.slots.set(key, item);
    this.wake();
    return displaced;
  }

  /** The oldest-waiting stream's newest frame; undefined once closed and empty. */
  async take(): Promise<T | undefined> {
    for (;;) {
      const first = this.slots.entries().next();
      if (!first.done) {
        const [key, item] = first.value;
        this.slots.delete(key);
        return item;
      }
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** No more puts; take() drains what is left, then returns undefined. Idempotent. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
