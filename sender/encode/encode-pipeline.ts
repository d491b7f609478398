import type { EncodedFrame, FrameEncoder } from './frame-encoder';
import type { RawFrame } from '../sources/frame-source';

export type DeliverEncoded = (seq: number, frame: RawFrame, encoded: EncodedFrame) => Promise<void>;

/** How many strips each frame is encoded in, told how long each encode took (strip-plan.ts: StripChooser). */
export interface StripPolicy {
  stripsFor(encodesInFlight: number): number;
  record(strips: number, encodeUs: number, encodesInFlight: number): void;
}

const WHOLE_FRAMES: StripPolicy = { stripsFor: () => 1, record: () => undefined };

/**
 * Encodes up to `maxInFlight` frames at once on libuv's pool and delivers them strictly in
 * submission order. At a camera's pace each encode finishes before the next frame arrives, so
 * only one is ever in flight and pipelining adds no latency; unthrottled, every core encodes.
 */
export class OrderedEncodePipeline {
  private readonly inFlight = new Set<Promise<void>>();
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(
    private readonly encoder: FrameEncoder,
    private readonly deliver: DeliverEncoded,
    private readonly maxInFlight: number,
    private readonly strips: StripPolicy = WHOLE_FRAMES,
  ) {}

  /** Starts encoding `frame` at once, after waiting for room if `maxInFlight` frames are still pending. */
  async submit(seq: number, frame: RawFrame): Promise<void> {
    while (this.inFlight.size >= this.maxInFlight) await Promise.race(this.inFlight);
    this.throwIfFailed();
    const encodesInFlight = this.inFlight.size;
    const encoding = this.encoder.encode(frame, this.strips.stripsFor(encodesInFlight));
    void encoding.then((encoded) => this.strips.record(encoded.strips, encoded.encodeUs, encodesInFlight), () => undefined);
    // Observed through the chain below; this only stops Node reporting it as unhandled meanwhile.
    encoding.catch(() => undefined);
    const delivered = this.tail.then(async () => {
      if (this.failure) return;
      await this.deliver(seq, frame, await encoding);
    });
    const settled = delivered.catch((error: unknown) => {
      this.failure ??= { error };
    });
    this.tail = settled;
    // The pixels can be reused once the encode is done with them and the frame is delivered (or never will be).
    const entry = Promise.allSettled([encoding, settled]).then(() => {
      frame.release?.();
      this.inFlight.delete(entry);
    });
    this.inFlight.add(entry);
  }

  /** Waits until every submitted frame is delivered; rethrows the first encode or delivery failure. */
  async flush(): Promise<void> {
    await this.tail;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}
