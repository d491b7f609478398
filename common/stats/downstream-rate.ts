/**
 * The rate a stream's frames cross the slowest hop between its sender and this receiver, seen from
 * the receiver alone (docs/protocol.md, "Clock offsets": "The echo frame's transit"). Pure: times
 * are epoch microseconds, passed in.
 *
 * Packet-train dispersion: when frame k was already waiting behind frame k − 1 at the bottleneck,
 * the bottleneck spent the gap between their arrivals on frame k alone, so bytes_k / gap is its
 * rate. Whether frame k waited is decided without knowing the clock offset θ (the sender's clock
 * minus ours): every frame bounds it, θ ≥ send_us − receive time (no frame arrives before it was
 * sent), so the largest such bound of the last seconds, θ_lo, is no greater than θ, and frame k
 * was surely handed to its socket before frame k − 1 arrived when send_us_k − θ_lo is earlier
 * than that arrival (by a margin for drift and clock reads). On a link with room to spare a frame
 * waits behind the one before only when the sender sent the two closer together than one frame's
 * transit; without such pairs this has no evidence and reports no rate.
 *
 * A gap measured this way is at least the bottleneck's time for the frame (the hop may idle while
 * a frame is still in the sender's buffers), give or take when the receiver read each of the two;
 * the rate is the median of the recent pairs, so one late read does not move it.
 */

/** Pairs and bounds older than this are forgotten. */
const WINDOW_US = 8_000_000;
/** Pairs kept at most (memory bound). */
const MAX_PAIRS = 64;
/**
 * Bounds kept at most (memory bound, whatever the frame rate): past this the oldest, largest goes,
 * which only loosens θ_lo, so fewer pairs qualify; none is wrongly taken.
 */
const MAX_BOUNDS = 64;
/** A rate needs this many queued pairs in the window. */
const MIN_PAIRS = 3;
/** How much earlier than the previous frame's arrival a frame must surely have been sent: 8 s at 50 ppm, and clock reads. */
const QUEUED_MARGIN_US = 1_000;

interface Bound {
  atUs: number;
  /** send_us − receive time of one frame: θ is at least this. */
  offsetAtLeastUs: number;
}

export class DownstreamRate {
  private previous: { session: number; seq: number; receiveUs: number } | undefined;
  /** Decreasing in offsetAtLeastUs, so the first is the window's largest (a monotonic queue). */
  private bounds: Bound[] = [];
  private pairs: Array<{ atUs: number; bytesPerUs: number }> = [];

  /** Every frame of the stream, in arrival order. */
  onFrame(session: number, seq: number, sendUs: number, receiveUs: number, bytes: number): void {
    const previous = this.previous;
    if (previous?.session === session && seq <= previous.seq) return; // a repeat (a hub's cached frame): old, no news
    if (previous?.session !== session) {
      // Another run of the sender, maybe on another host, behind another link.
      this.bounds = [];
      this.pairs = [];
    }
    this.expire(receiveUs);
    const offsetAtLeast = this.bounds[0]?.offsetAtLeastUs;
    if (previous?.session === session && offsetAtLeast !== undefined && sendUs - offsetAtLeast < previous.receiveUs - QUEUED_MARGIN_US) {
      const gapUs = receiveUs - previous.receiveUs;
      if (gapUs > 0) {
        this.pairs.push({ atUs: receiveUs, bytesPerUs: bytes / gapUs });
        if (this.pairs.length > MAX_PAIRS) this.pairs.shift();
      }
    }
    const bound = { atUs: receiveUs, offsetAtLeastUs: sendUs - receiveUs };
    while (this.bounds.length > 0 && this.bounds[this.bounds.length - 1]!.offsetAtLeastUs <= bound.offsetAtLeastUs) this.bounds.pop();
    this.bounds.push(bound);
    if (this.bounds.length > MAX_BOUNDS) this.bounds.shift();
    this.previous = { session, seq, receiveUs };
  }

  /** Bytes per µs at `nowUs`, or undefined without evidence that frames queue at all. */
  bytesPerUs(nowUs: number): number | undefined {
    this.expire(nowUs);
    if (this.pairs.length < MIN_PAIRS) return undefined;
    const rates = this.pairs.map((p) => p.bytesPerUs).sort((a, b) => a - b);
    return rates[Math.floor(rates.length / 2)];
  }

  private expire(nowUs: number): void {
    const oldest = nowUs - WINDOW_US;
    while (this.bounds.length > 0 && this.bounds[0]!.atUs < oldest) this.bounds.shift();
    while (this.pairs.length > 0 && this.pairs[0]!.atUs < oldest) this.pairs.shift();
  }
}
