import { randomInt } from 'node:crypto';
import { ClockOffsetEstimator, type ClockEstimate } from '../stats/clock-offset';
import { DownstreamRate } from '../stats/downstream-rate';
import { MAX_CLOCK_PROBE, type Frame } from '../wire/protocol';

/**
 * Probes remembered (when each was sent): a receiver sends one per stream per report interval, and
 * each lives PROBE_LIFETIME_US, so this covers 256 streams (16 probes each) before the oldest go.
 */
const MAX_PROBES = 4096;
/** A probe not echoed within this long is forgotten. */
const PROBE_LIFETIME_US = 8_000_000;
/** Streams (senders) with an estimate; the least recently heard is forgotten past this. */
const MAX_PEERS = 256;

interface Peer {
  session: number;
  readonly clock: ClockOffsetEstimator;
  /** The rate frames cross the slowest hop, when frames queue there: the echo frame's transit. */
  readonly rate: DownstreamRate;
  /** PUB: an echo of one of our probes, waiting for the hold in the next frame. */
  echo?: { seq: number; t1: number; t3: number; t4: number; bytes: number };
  /** REP: the last frame received and answered, waiting for the round trip in the next frame. */
  replied?: { seq: number; t1: number; t2: number; t3?: number };
}

/**
 * The receiver's half of the clock exchanges (docs/protocol.md, "Clock offsets"): hands out the
 * probes its link reports carry, completes exchanges from the echoes (PUB) or round trips (REQ)
 * frames carry back, and keeps one ClockOffsetEstimator per stream. Bounded: at most MAX_PROBES
 * probes and MAX_PEERS streams, whatever arrives.
 */
export class ClockExchanges {
  private readonly probes = new Map<number, number>();
  private readonly peers = new Map<string, Peer>();

  /** A fresh probe for a link report about to be sent at `nowUs` (t1). */
  probe(nowUs: number): number {
    let probe = randomInt(1, MAX_CLOCK_PROBE + 1);
    while (this.probes.has(probe)) probe = randomInt(1, MAX_CLOCK_PROBE + 1);
    this.probes.set(probe, nowUs);
    for (const [old, sentUs] of this.probes) {
      if (this.probes.size <= MAX_PROBES && sentUs >= nowUs - PROBE_LIFETIME_US) break;
      this.probes.delete(old);
    }
    return probe;
  }

  /**
   * A frame off the socket (repeats included: only their echoes would be stale, and a stale echo
   * only has a longer round trip). Returns the stream's estimate after it, if there is one.
   */
  onFrame({ topic, header, jpeg }: Frame, receiveUs: number): ClockEstimate | undefined {
    let peer = this.peers.get(topic);
    if (peer && peer.session !== header.session) peer = undefined; // a restarted sender may be another host
    if (!peer) {
      if (!header.clock) return undefined;
      peer = { session: header.session, clock: new ClockOffsetEstimator(), rate: new DownstreamRate() };
    }
    this.touch(topic, peer);
    peer.rate.onFrame(header.session, header.seq, header.sendUs, receiveUs, jpeg.length);
    const { clock } = header;
    const holdFor = clock?.kind === 'hold' && peer.echo?.seq === header.seq - 1 ? peer.echo : undefined;
    if (peer.echo && !holdFor) {
      // The hold was lost (its frame dropped, as most are on a link a stream overfills). The sender held
      // the probe somewhere between its arrival and t3, so t2 = t3 gives the widest sound exchange;
      // the filter prefers narrower ones once a hold comes through.
      this.completeEcho(peer, peer.echo, 0);
    }
    if (clock?.kind === 'echo') {
      const t1 = this.probes.get(clock.value);
      if (t1 !== undefined) peer.echo = { seq: header.seq, t1, t3: header.sendUs, t4: receiveUs, bytes: jpeg.length };
    } else if (holdFor && clock) {
      this.completeEcho(peer, holdFor, clock.value);
    } else if (clock?.kind === 'reply-rtt' && peer.replied?.seq === header.seq - 1 && peer.replied.t3 !== undefined) {
      // Mirrored: the sender sent (t1) and got the reply (t4 = t1 + value) on its clock.
      const { t1, t2, t3 } = peer.replied;
      const t4 = t1 + clock.value;
      const rttUs = t4 - t1 - (t3 - t2);
      if (rttUs >= 0 && t3 >= t2) peer.clock.add({ atUs: receiveUs, offsetUs: (t1 - t2 + (t4 - t3)) / 2, rttUs });
    }
    if (clock?.kind !== 'echo') delete peer.echo;
    peer.replied = { seq: header.seq, t1: header.sendUs, t2: receiveUs };
    return peer.clock.estimate(receiveUs);
  }

  private completeEcho(peer: Peer, echo: NonNullable<Peer['echo']>, holdUs: number): void {
    const { t1, t3, t4, bytes } = echo;
    delete peer.echo;
    // The probe came up in a report of ~50 bytes, the echo down in a whole frame (docs/protocol.md).
    const bytesPerUs = peer.rate.bytesPerUs(t4);
    peer.clock.addExchange(t1, t3 - holdUs, t3, t4, bytesPerUs ? bytes / bytesPerUs : 0);
  }

  /** REP: the reply to `frame` left at `nowUs` (t3). */
  onReplied({ topic, header }: Frame, nowUs: number): void {
    const peer = this.peers.get(topic);
    if (peer?.session === header.session && peer.replied?.seq === header.seq) peer.replied.t3 = nowUs;
  }

  /** The stream's estimate at `nowUs`, without a frame. */
  estimate(topic: string, nowUs: number): ClockEstimate | undefined {
    return this.peers.get(topic)?.clock.estimate(nowUs);
  }

  private touch(topic: string, peer: Peer): void {
    this.peers.delete(topic);
    this.peers.set(topic, peer);
    if (this.peers.size > MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
  }
}
