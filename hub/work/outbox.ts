/** A socket's sends in order, one at a time (zeromq.js allows one send in flight per socket). */
export class Outbox {
  private readonly messages: Buffer[][] = [];
  private pumping = false;
  private closed = false;

  constructor(
    private readonly socket: { send(parts: Buffer[]): Promise<void>; readonly closed: boolean },
    /** A send that failed (EHOSTUNREACH, EAGAIN with sendTimeout 0): the message is dropped. */
    private readonly onFailed: (message: readonly Buffer[], error: unknown) => void,
  ) {}

  /**
   * Queues a message. What is queued is bounded by its callers: work by the workers' credit,
   * heartbeats by the workers, results by the work the hub hands out.
   */
  push(message: Buffer[]): void {
    if (this.closed) return;
    this.messages.push(message);
    if (!this.pumping) void this.pump();
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      for (let message = this.messages.shift(); message && !this.closed; message = this.messages.shift()) {
        if (this.socket.closed) return;
        try {
          await this.socket.send(message);
        } catch (error) {
          if (this.socket.closed) return;
          this.onFailed(message, error);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Idempotent: what is still queued is dropped. */
  close(): void {
    this.closed = true;
    this.messages.length = 0;
  }
}
