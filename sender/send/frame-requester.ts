import * as zmq from 'zeromq';
import { nowMicros } from '../../common/clock';
import { NewestWaits } from '../../common/newest-waits';
import { DEFAULTS, type Wire } from '../../common/defaults';
import { UsageError } from '../../common/errors';
import { encodeImagezmqJpeg } from '../../common/wire/imagezmq-protocol';
import type { OutgoingFrame } from './frame-publisher';
import { encodeFrame, encodeTopic, type ClockField } from '../../common/wire/protocol';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from '../../common/sockets/curve-security';
import { COMMON_SOCKET_OPTIONS } from '../../common/sockets/socket-options';

export interface FrameRequesterOptions {
  /** REQ connects: it is the side that reopens its socket, so it must not hold a bound port. */
  connect: readonly string[];
  topic: string;
  wire: Wire;
  replyTimeoutMs?: number;
  /** The first timeout of an outage (`first`), and each one after it. */
  onTimeout?: (first: boolean) => void;
  /** A reply arrived after an outage. */
  onRecovered?: () => void;
  /** CURVE client settings, applied to every socket it opens (it reopens after each timeout). */
  security?: SocketSecurityOptions | undefined;
}

/**
 * What became of one offered frame:
 * - acknowledged: the receiver replied OK (zerocam's REP receiver: the frame is accepted, and saved if it saves);
 * - refused: it replied something else (a zerocam receiver rejected the frame);
 * - skipped: a newer frame replaced it while it waited;
 * - timed-out: no reply within the timeout (the frame may or may not have arrived);
 * - closed: the requester was closed first.
 */
export type RequestOutcome = 'acknowledged' | 'refused' | 'skipped' | 'timed-out' | 'closed';

interface Waiting {
  frame: Omit<OutgoingFrame, 'seq'>;
  jpeg: Buffer;
  settle: (outcome: RequestOutcome) => void;
}

/**
 * Owns one REQ socket and delivers frames one at a time, each acknowledged by a reply, without
 * ever hanging (the ZeroMQ guide's "Lazy Pirate"): a reply that does not come within the timeout
 * closes the socket and opens a new one, since a REQ socket that lost its reply is stuck for good.
 *
 * Offering never waits: while a reply is pending, the newest offered frame waits in a one-frame
 * slot and an older waiting frame is skipped, so acknowledgements never build a backlog. In the
 * zerocam wire format seq numbers the frames actually sent, so a receiver sees no gaps unless a
 * sent frame was lost.
 */
export class FrameRequester {
  private secured: SecuredSocket<zmq.Request>;
  /** In flight: the frame awaiting its reply. */
  private readonly flow = new NewestWaits<Waiting>((skipped) => skipped.settle('skipped'));
  private inOutage = false;
  private nextSeq = 0;
  /** The last frame answered: its round trip goes out with the next frame (docs/protocol.md, "Clock offsets"). */
  private lastReply: { seq: number; sendUs: number; roundTripUs: number } | undefined;
  private closed = false;
  private readonly topicPart: Buffer;
  private readonly idleWaiters: Array<() => void> = [];

  private constructor(
    private readonly options: FrameRequesterOptions,
    readonly session: number,
    secured: SecuredSocket<zmq.Request>,
  ) {
    this.secured = secured;
    this.topicPart = encodeTopic(options.topic);
  }

  static async open(options: FrameRequesterOptions, session: number): Promise<FrameRequester> {
    encodeTopic(options.topic);
    if (options.connect.length === 0) throw new UsageError('the req pattern needs --connect: the receiver (or hub) binds');
    return new FrameRequester(options, session, await FrameRequester.openSocket(options));
  }

  private static openSocket(options: FrameRequesterOptions): Promise<SecuredSocket<zmq.Request>> {
    const timeout = options.replyTimeoutMs ?? DEFAULTS.replyTimeoutMs;
    return openSecuredSocket(
      (curve) => new zmq.Request({ ...COMMON_SOCKET_OPTIONS, ...curve, receiveTimeout: timeout, sendTimeout: timeout }),
      { connect: options.connect },
      options.security,
    );
  }

  get endpoint(): string {
    return this.options.connect[0] ?? '';
  }

  /** Frames offered and not yet settled: the one awaiting its reply and the one waiting behind it. */
  get outstanding(): number {
    return (this.flow.inFlight ? 1 : 0) + (this.flow.waiting ? 1 : 0);
  }

  /** A frame has been sent and awaits its reply. */
  get awaitingReply(): boolean {
    return this.flow.inFlight !== undefined;
  }

  /** Queues a frame behind the one in flight, replacing (skipping) any frame already waiting. */
  offer(frame: Omit<OutgoingFrame, 'seq'>, jpeg: Buffer): Promise<RequestOutcome> {
    if (this.closed) return Promise.resolve('closed');
    return new Promise((settle) => {
      const now = this.flow.offer({ frame, jpeg, settle });
      if (now) void this.pump(now);
    });
  }

  /** Resolves once no frame is in flight or waiting. */
  idle(): Promise<void> {
    if (this.outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(first: Waiting): Promise<void> {
    try {
      for (let item: Waiting | undefined = first; item; item = this.flow.finish()) {
        item.settle(await this.request(item.frame, item.jpeg));
      }
    } finally {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private async request(frame: Omit<OutgoingFrame, 'seq'>, jpeg: Buffer): Promise<RequestOutcome> {
    const sendUs = nowMicros();
    const seq = this.nextSeq;
    const parts =
      this.options.wire === 'imagezmq'
        ? encodeImagezmqJpeg(this.options.topic, jpeg)
        : encodeFrame(this.topicPart, { ...frame, seq: this.nextSeq, session: this.session, sendUs, clock: this.replyRoundTrip(sendUs) }, jpeg);
    const socket = this.secured.socket;
    let reply: Buffer[];
    try {
      await socket.send(parts);
      if (this.options.wire === 'zerocam') this.nextSeq++;
      reply = await socket.receive();
      this.lastReply = { seq, sendUs, roundTripUs: nowMicros() - sendUs };
    } catch {
      if (this.closed) return 'closed';
      // EAGAIN: no reply (or no peer to send to) in time. Anything else also leaves this REQ socket
      // unusable; either way a fresh socket is the way on, and nothing a peer does can end the sender.
      await this.reopen();
      return 'timed-out';
    }
    if (this.inOutage) {
      this.inOutage = false;
      this.options.onRecovered?.();
    }
    // imagezmq hubs may answer anything; zerocam's receivers answer OK or ERR <reason>.
    return this.options.wire === 'imagezmq' || reply[0]?.toString() === DEFAULTS.replyAccepted ? 'acknowledged' : 'refused';
  }

  /** Lazy Pirate: a REQ socket that missed a reply can neither send nor receive again. */
  /** The clock field for frame nextSeq: the previous frame's round trip, if that frame was answered. */
  private replyRoundTrip(sendUs: number): ClockField | undefined {
    const last = this.lastReply;
    this.lastReply = undefined;
    if (!last || last.seq !== this.nextSeq - 1 || last.roundTripUs < 0 || last.roundTripUs > 0xffff_ffff || sendUs < last.sendUs) return undefined;
    return { kind: 'reply-rtt', value: last.roundTripUs };
  }

  private async reopen(): Promise<void> {
    this.options.onTimeout?.(!this.inOutage);
    this.inOutage = true;
    this.secured.close();
    // The frame that waited through the timeout is stale now; the next one sent is captured after this.
    this.flow.takeWaiting()?.settle('skipped');
    const fresh = await FrameRequester.openSocket(this.options);
    if (this.closed) fresh.close();
    else this.secured = fresh;
  }

  /** Idempotent. A frame waiting for its reply settles as 'closed' at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.flow.reset()?.settle('closed');
    this.secured.close();
  }
}
