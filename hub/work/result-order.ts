/**
 * Per stream (topic and session), results leave in seq order. A result waits while a frame of a lower
 * seq of its stream is still out at a worker; skipped frames were never out, so they never hold it up.
 *
 * live:  the wait is bounded (a window of `maxHeld` results, or `maxHeldMs`): past it the held results
 *        leave, and a result that then comes for a lower seq is `late`, dropped and counted.
 * every: every frame out will have its result (it is re-dispatched until it does, or given up with
 *        abandon()), so results wait for it; the hub's work queue bounds how many.
 */
export interface OrderedResult {
  seq: number;
}

interface StreamOrder<R> {
  outstanding: Set<number>;
  held: Map<number, { result: R; sinceMs: number }>;
  lastPublished: number;
}

export interface ResultOrderOptions {
  mode: 'live' | 'every';
  maxHeld: number;
  maxHeldMs: number;
}

export class ResultOrder<R extends OrderedResult> {
  private readonly streams = new Map<string, StreamOrder<R>>();
  late = 0;

  constructor(
    private readonly options: ResultOrderOptions,
    private readonly publish: (result: R) => void,
  ) {}

  /** Results waiting for a lower seq, in all streams. */
  get held(): number {
    let held = 0;
    for (const stream of this.streams.values()) held += stream.held.size;
    return held;
  }

  /** A frame of `stream` went out to a worker. */
  dispatched(stream: string, seq: number): void {
    let order = this.streams.get(stream);
    if (!order) {
      order = { outstanding: new Set(), held: new Map(), lastPublished: -1 };
      this.streams.set(stream, order);
    }
    order.outstanding.add(seq);
  }

  /** That frame will have no result (its worker died in live mode, or it was given up): it holds nothing up. */
  abandon(stream: string, seq: number, nowMs: number): void {
    const order = this.streams.get(stream);
    if (!order) return;
    order.outstanding.delete(seq);
    this.flush(stream, order, nowMs);
  }

  /** A result came. Returns false if it was late (dropped). */
  completed(stream: string, result: R, nowMs: number): boolean {
    const order = this.streams.get(stream);
    if (!order || result.seq <= order.lastPublished || !order.outstanding.has(result.seq)) {
      if (order) order.outstanding.delete(result.seq);
      this.late++;
      return false;
    }
    order.outstanding.delete(result.seq);
    order.held.set(result.seq, { result, sinceMs: nowMs });
    this.flush(stream, order, nowMs);
    return true;
  }

  /** Lets results out whose wait has run past the window (live); call now and then. */
  tick(nowMs: number): void {
    for (const [stream, order] of this.streams) this.flush(stream, order, nowMs);
  }

  private flush(stream: string, order: StreamOrder<R>, nowMs: number): void {
    while (order.held.size > 0) {
      let next = Infinity;
      for (const seq of order.held.keys()) next = Math.min(next, seq);
      let blocked = false;
      for (const seq of order.outstanding) {
        if (seq < next) {
          blocked = true;
          break;
        }
      }
      const entry = order.held.get(next)!;
      if (blocked) {
        let oldestMs = Infinity;
        for (const held of order.held.values()) oldestMs = Math.min(oldestMs, held.sinceMs);
        const overdue = this.options.mode === 'live' && (order.held.size > this.options.maxHeld || nowMs - oldestMs >= this.options.maxHeldMs);
        if (!overdue) break;
        // The lower frames still out will be late: forget them, so they hold nothing up again.
        for (const seq of order.outstanding) if (seq < next) order.outstanding.delete(seq);
      }
      order.held.delete(next);
      order.lastPublished = next;
      this.publish(entry.result);
    }
    if (order.held.size === 0 && order.outstanding.size === 0) this.streams.delete(stream);
  }
}
