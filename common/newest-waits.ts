/**
 * Flow control for a consumer that takes one item at a time: while an item is in flight, only the
 * newest arrival waits, and an older waiting item is replaced and counted as skipped. A slow
 * consumer (a page painting, an MJPEG client's socket, a REQ sender's reply) therefore always gets
 * the newest item next and never falls behind by more than one.
 */
export class NewestWaits<T> {
  skipped = 0;
  private current: T | undefined;
  private next: T | undefined;

  /** `onSkipped` hears of each item replaced while it waited (to settle or free it). */
  constructor(private readonly onSkipped?: (item: T) => void) {}

  get inFlight(): T | undefined {
    return this.current;
  }

  get waiting(): T | undefined {
    return this.next;
  }

  /** Returns the item if the consumer is free (the item is in flight now); otherwise it waits, replacing an older one. */
  offer(item: T): T | undefined {
    if (this.current === undefined) {
      this.current = item;
      return item;
    }
    if (this.next !== undefined) {
      this.skipped++;
      this.onSkipped?.(this.next);
    }
    this.next = item;
    return undefined;
  }

  /**
   * The item in flight is done: returns the waiting one, which is in flight now, if any. With
   * `isInFlight`, a claim about an item that is not the one in flight (stale, or made up) changes nothing.
   */
  finish(isInFlight?: (item: T) => boolean): T | undefined {
    if (this.current === undefined || (isInFlight && !isInFlight(this.current))) return undefined;
    this.current = this.next;
    this.next = undefined;
    return this.current;
  }

  /** Takes the waiting item out (one gone stale), not counted as skipped; the item in flight stays. */
  takeWaiting(): T | undefined {
    const item = this.next;
    this.next = undefined;
    return item;
  }

  /** Forgets the item in flight and the waiting one (a consumer that went away); returns the waiting one. Counts stay. */
  reset(): T | undefined {
    const dropped = this.next;
    this.current = undefined;
    this.next = undefined;
    return dropped;
  }
}
