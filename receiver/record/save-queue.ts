/**
 * Frames waiting for the disk, all streams together, at most `capacity`. When it is full the oldest
 * waiting frame makes room for the newest (put() returns it, to be counted as skipped): a slow
 * disk costs old frames, never the recorder's grip on the present.
 */
export class SaveQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`a save queue holds at least 1 frame, not ${capacity}`);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Returns the frame it displaced, if it was full. */
  put(item: T): T | undefined {
    let displaced: T | undefined;
    if (this.length >= this.capacity) displaced = this.shift();
    this.items.push(item);
    this.wake();
    return displaced;
  }

  /**
   * The oldest waiting frame; 'timeout' if none came within `timeoutMs` (undefined: wait as long as
   * it takes); undefined once closed and empty.
   */
  async take(timeoutMs?: number): Promise<T | 'timeout' | undefined> {
    for (;;) {
      if (this.length > 0) return this.shift();
      if (this.closed) return undefined;
      if (timeoutMs !== undefined && timeoutMs <= 0) return 'timeout';
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        this.waiter = () => resolve(false);
        if (timeoutMs !== undefined) timer = setTimeout(() => resolve(true), timeoutMs);
      });
      clearTimeout(timer);
      this.waiter = undefined;
      if (timedOut && this.length === 0 && !this.closed) return 'timeout';
    }
  }

  /** No more puts; take() drains what is left, then returns undefined. Idempotent. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private shift(): T {
    const item = this.items[this.head]!;
    this.items[this.head++] = undefined as T;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }
}
