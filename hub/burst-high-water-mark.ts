import { DEFAULTS } from '../common/defaults';

/**
 * What the hub's send queue per receiver needs for the streams it forwards now (#11). The hub's own
 * is fixed before its receivers' socket binds (hub/forwarder.ts says why), and with
 * `--hwm auto` it warns when the live streams need more than that.
 *
 * One pipe carries every stream a receiver takes, so it must hold a burst of one frame from each
 * live stream; any more only adds lag for a viewer on a slow link, because libzmq's XPUB drops the
 * newest frame, never the oldest, once that viewer's pipe is full.
 *
 * libzmq's writer learns what its reader took only every low-water-mark reads (half the HWM,
 * pipe_t::compute_lwm), so a pipe of H frames may look full with up to ceil(H / 2) - 1 of them
 * already gone. H = 2N - 2 (at least 1) is the smallest H that always has room for N: measured,
 * with H = 4 a burst of 4 found room for only 3 in half the cases.
 */
export function highWaterMarkFor(liveStreams: number): number {
  return Math.max(1, 2 * liveStreams - 2);
}

/**
 * Counts the streams with a frame within the stall window (the viewer's "live") and says when the
 * HWM they need changes. A stream that stops leaves the count after the window; one that starts
 * or comes back joins it with its first frame, before that frame is sent.
 */
export class BurstHighWaterMark {
  /** Oldest frame first (a frame moves its stream to the end), so pruning stops at the first live one. */
  private readonly lastFrameMs = new Map<string, number>();
  private current = highWaterMarkFor(0);

  constructor(private readonly stallMs: number = DEFAULTS.viewerStallMs) {}

  get frames(): number {
    return this.current;
  }

  /** Notes a frame of `topic`; returns the new HWM if it changed, else undefined. O(1) per frame, plus the streams that stalled. */
  onFrame(topic: string, nowMs: number): number | undefined {
    this.lastFrameMs.delete(topic);
    this.lastFrameMs.set(topic, nowMs);
    for (const [other, atMs] of this.lastFrameMs) {
      if (atMs >= nowMs - this.stallMs) break;
      this.lastFrameMs.delete(other);
    }
    const needed = highWaterMarkFor(this.lastFrameMs.size);
    if (needed === this.current) return undefined;
    this.current = needed;
    return needed;
  }
}
