import { nowMicros } from '../common/clock';
import { LinkReportError } from '../common/errors';
import type { ClockEstimate } from '../common/stats/clock-offset';
import { decodeLinkReport } from '../common/wire/link-report';
import { encodeHeader, type ClockField, type Frame } from '../common/wire/protocol';

/** Streams with viewers' probes waiting; the least recently used is forgotten past this. */
const MAX_TOPICS = 256;
/** Viewers with a probe waiting, per stream; the oldest is dropped past this. */
const MAX_PENDING = 16;
/** A probe that waited longer than this is not echoed (receivers forget probes after 8 s). */
const MAX_WAIT_US = 4_000_000;

interface StreamEchoes {
  readonly pending: Map<number, { probe: number; arrivedUs: number }>;
  /** The echo just sent: the next frame of the stream carries its hold. */
  hold?: { session: number; seq: number; value: number };
}

/**
 * The hub's half of its viewers' clock exchanges (docs/protocol.md, "Clock offsets", "Through a hub"):
 * it answers each viewer's probes as a sender would, but on the clock of the stream's camera, which
 * it knows from its own exchanges with that camera (offset θ ± u). The probe's arrival, H2 on the
 * hub's clock, becomes H2 + θ + u (no earlier than the true arrival on the camera's clock); the echo
 * goes in the first frame the camera sent after that (its send_us, on the camera's clock, is no
 * later than when the hub sends it on). The viewer's exchange then measures the camera's clock
 * against its own, both hops and the hub's uncertainty inside its round trip. Without an estimate
 * for a stream's camera the hub answers nothing for it, and its viewers stay uncorrected.
 *
 * Only the header part is rebuilt (48 bytes); the JPEG goes on as the very buffer received.
 */
export class ClockRelay {
  private readonly streams = new Map<string, StreamEchoes>();

  /** A link report a viewer sent upstream. Malformed ones are someone else's to count. */
  onReport(message: Buffer, arrivedUs: number = nowMicros()): void {
    let report;
    try {
      report = decodeLinkReport(message);
    } catch (error) {
      if (error instanceof LinkReportError) return;
      throw error;
    }
    if (report.probe === undefined) return;
    let stream = this.streams.get(report.topic);
    if (stream) this.streams.delete(report.topic);
    stream ??= { pending: new Map() };
    this.streams.set(report.topic, stream);
    if (this.streams.size > MAX_TOPICS) this.streams.delete(this.streams.keys().next().value!);
    stream.pending.delete(report.receiver);
    stream.pending.set(report.receiver, { probe: report.probe, arrivedUs });
    if (stream.pending.size > MAX_PENDING) stream.pending.delete(stream.pending.keys().next().value!);
  }

  /**
   * The parts to send on for `frame` (`parts` as received): the same array, or one with a new header
   * carrying an echo or a hold. `camera`: the hub's estimate of the stream's sender clock.
   */
  stamp(frame: Frame, parts: readonly Buffer[], camera: ClockEstimate | undefined): readonly Buffer[] {
    const stream = this.streams.get(frame.topic);
    if (!stream) return parts;
    const { header } = frame;
    const hold = stream.hold;
    delete stream.hold;
    if (hold && hold.session === header.session && hold.seq === header.seq - 1) return this.withClock(frame, parts, { kind: 'hold', value: hold.value });
    if (!camera || header.sendUs === 0) return parts;
    const now = nowMicros();
    for (const [receiver, { probe, arrivedUs }] of stream.pending) {
      if (arrivedUs < now - MAX_WAIT_US) {
        stream.pending.delete(receiver);
        continue;
      }
      const arrivedOnCameraUs = arrivedUs + camera.offsetUs + camera.uncertaintyUs;
      // Sent by the camera before the probe surely arrived: wait for a later frame (frames come in send order).
      if (header.sendUs < arrivedOnCameraUs) return parts;
      stream.pending.delete(receiver);
      const value = Math.floor(header.sendUs - arrivedOnCameraUs);
      if (value > MAX_WAIT_US) continue;
      stream.hold = { session: header.session, seq: header.seq, value };
      return this.withClock(frame, parts, { kind: 'echo', value: probe });
    }
    return parts;
  }

  private withClock(frame: Frame, parts: readonly Buffer[], clock: ClockField): readonly Buffer[] {
    return [parts[0]!, encodeHeader({ ...frame.header, clock }), ...parts.slice(2)];
  }
}
