/**
 * Flow control for one stream on its way to the screen: at most one frame is in flight to the
 * renderer, and while it is, only the newest arrival waits. The renderer acknowledges a frame
 * once it has painted it; an older waiting frame is replaced and counted as skipped.
 */
export class NewestFrameForwarder<T extends { ticket: number }> {
  private inFlightTicket: number | undefined;
  private waiting: T | undefined;
  skipped = 0;

  /** Returns the frame if it should be sent now; otherwise keeps it as the newest waiting one. */
  offer(frame: T): T | undefined {
    if (this.inFlightTicket === undefined) {
      this.inFlightTicket = frame.ticket;
      return frame;
    }
    if (this.waiting) this.skipped++;
    this.waiting = frame;
    return undefined;
  }

  /**
   * The renderer painted the frame with this ticket. Returns the waiting frame to send next, if
   * any. An ack for a frame that is not in flight (stale, or made up) changes nothing.
   */
  displayed(ticket: number): T | undefined {
    if (ticket !== this.inFlightTicket) return undefined;
    const next = this.waiting;
    this.waiting = undefined;
    this.inFlightTicket = next?.ticket;
    return next;
  }

  /** Nothing is in flight any more (a renderer that went away): start afresh, keeping the count. */
  reset(): void {
    this.inFlightTicket = undefined;
    this.waiting = undefined;
  }
}
