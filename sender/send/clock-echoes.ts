import type { ClockField } from '../../common/wire/protocol';

/** Receivers with a probe waiting for its echo; past this the oldest waiting is dropped. */
const MAX_PENDING = 16;
/** A probe that waited longer than this is not echoed (its receiver forgets probes after 8 s). */
const MAX_WAIT_US = 4_000_000;

/**
 * A PUB sender's half of the clock exchanges (docs/protocol.md, "Clock offsets"): remembers the
 * newest probe of each receiver's link reports with its arrival time (t2), and answers them in
 * turn, two frames each: the echo (this frame's send_us is t3), then the hold t3 − t2.
 */
export class ClockEchoes {
  private readonly pending = new Map<number, { probe: number; arrivedUs: number }>();
  private hold: number | undefined;

  onProbe(receiver: number, probe: number, arrivedUs: number): void {
    this.pending.delete(receiver);
    this.pending.set(receiver, { probe, arrivedUs });
    if (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
  }

  /** The clock field of the next frame sent, whose send_us is `sendUs`. */
  next(sendUs: number): ClockField | undefined {
    if (this.hold !== undefined) {
      const value = this.hold;
      this.hold = undefined;
      return { kind: 'hold', value };
    }
    for (const [receiver, { probe, arrivedUs }] of this.pending) {
      this.pending.delete(receiver);
      const hold = sendUs - arrivedUs;
      // A report read after this frame's send time was taken (or a clock step in between): try the next one.
      if (hold < 0 || hold > MAX_WAIT_US) continue;
      this.hold = hold;
      return { kind: 'echo', value: probe };
    }
    return undefined;
  }
}
