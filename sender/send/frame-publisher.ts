import * as zmq from 'zeromq';
import { DEFAULTS, type SenderPattern, type Wire } from '../../common/defaults';
import { encodeImagezmqJpeg } from '../../common/wire/imagezmq-protocol';
import { encodeFrame, encodeTopic, type FrameHeader } from '../../common/wire/protocol';
import { Audience } from './audience';
import { ClockEchoes } from './clock-echoes';
import { nowMicros } from '../../common/clock';
import { isLinkReport } from '../../common/wire/link-report';
import { LinkMonitor } from '../../common/sockets/link-monitor';
import { openSecuredSocket, type SocketSecurityOptions } from '../../common/sockets/curve-security';
import { COMMON_SOCKET_OPTIONS, isWouldBlock, type Attachment } from '../../common/sockets/socket-options';

export interface FramePublisherOptions {
  pattern: SenderPattern;
  attachment: Attachment;
  topic: string;
  sendHighWaterMark?: number;
  /** Default 'zerocam'; 'imagezmq' sends imagezmq's send_jpg message with msg = topic. */
  wire?: Wire;
  /** CURVE encryption and, when binding, the allowlist; plaintext without it. */
  security?: SocketSecurityOptions | undefined;
}

/** The frame fields a caller supplies; the sender fills in session and send time. */
export type OutgoingFrame = Omit<FrameHeader, 'session' | 'sendUs'>;

/**
 * Owns one PUB or PUSH socket and sends JPEG frames on it without ever waiting for peers:
 * a frame that cannot be queued right now is skipped (sendJpg resolves false), because the
 * next frame will be newer anyway.
 *
 * PUB: libzmq drops frames per subscriber once its queue holds `sendHighWaterMark` frames;
 *      receivers see those as sequence gaps.
 * PUSH: a frame is queued for the next receiver with room; when none has room (or none is
 *      connected), the frame is skipped here and counted by the caller.
 *
 * It also knows whether anyone watches (`watched`, `whenWatched`), so the sender can idle: PUB is
 * an XPUB socket, which reads the subscriptions receivers (or a hub in between) send; PUSH counts
 * connected peers. inproc has no connection events, so an inproc PUSH counts as always watched.
 *
 * PUB also reads the link reports zerocam receivers send up the same path (`links`): how much of
 * the stream each receiver's link carries, which libzmq's per-subscriber drops would otherwise hide.
 */
export class FramePublisher {
  readonly session: number;
  /** PUB: what the receivers' links carry, from their link reports; nothing for PUSH. */
  readonly links: LinkMonitor | undefined;
  /** PUB: answers the clock probes in the receivers' link reports. */
  private readonly echoes = new ClockEchoes();
  private constructor(
    private readonly socket: zmq.XPublisher | zmq.Push,
    readonly topic: string,
    private readonly topicPart: Buffer,
    readonly endpoint: string,
    session: number,
    private readonly audience: Audience,
    private readonly wire: Wire,
    private readonly release: () => void,
  ) {
    this.session = session;
    if (socket instanceof zmq.XPublisher) {
      this.links = new LinkMonitor(topic, session);
      void this.readSubscriptions(socket, this.links);
    }
  }

  static async open(options: FramePublisherOptions, session: number): Promise<FramePublisher> {
    const topicPart = encodeTopic(options.topic);
    const inproc = ('bind' in options.attachment ? [options.attachment.bind] : options.attachment.connect).every((e) => e.startsWith('inproc://'));
    const audience = new Audience(topicPart, options.pattern === 'pub' ? 'subscriptions' : inproc ? 'always' : 'peers');
    const { socket, endpoint, close } = await openSecuredSocket(
      (curve) => {
        const socketOptions = {
          ...COMMON_SOCKET_OPTIONS,
          ...curve,
          sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark,
          sendTimeout: 0,
        };
        const created = options.pattern === 'pub' ? new zmq.XPublisher(socketOptions) : new zmq.Push(socketOptions);
        if (created instanceof zmq.Push && !inproc) {
          // Listen before attaching, so no connection is missed.
          created.events.on('accept', () => audience.onPeerConnected());
          created.events.on('connect', () => audience.onPeerConnected());
          created.events.on('disconnect', () => audience.onPeerDisconnected());
        }
        return created;
      },
      options.attachment,
      options.security,
    );
    return new FramePublisher(socket, options.topic, topicPart, endpoint, session, audience, options.wire ?? 'zerocam', close);
  }

  /** Sends one frame. Resolves true if it was queued, false if it was skipped because no peer had room. */
  async sendJpg(frame: OutgoingFrame, jpeg: Buffer, sendUs: number): Promise<boolean> {
    const parts = this.wire === 'imagezmq' ? encodeImagezmqJpeg(this.topic, jpeg) : encodeFrame(this.topicPart, { ...frame, session: this.session, sendUs, clock: this.echoes.next(sendUs) }, jpeg);
    try {
      await this.socket.send(parts);
      return true;
    } catch (error) {
      if (isWouldBlock(error) && !this.socket.closed) return false;
      throw error;
    }
  }

  /** Someone subscribes to this topic (PUB) or is connected (PUSH). */
  get watched(): boolean {
    return this.audience.watched;
  }

  /** Resolves true once someone watches (at once if someone does), false if `signal` aborts first. */
  whenWatched(signal: AbortSignal): Promise<boolean> {
    return this.audience.whenWatched(signal);
  }

  /** Resolves true once no one watches any more, false if `signal` aborts first. */
  whenUnwatched(signal: AbortSignal): Promise<boolean> {
    return this.audience.whenUnwatched(signal);
  }

  private async readSubscriptions(socket: zmq.XPublisher, links: LinkMonitor): Promise<void> {
    try {
      for await (const [message] of socket) {
        if (!message) continue;
        if (isLinkReport(message)) {
          const arrivedUs = nowMicros();
          const report = links.onMessage(message, performance.now());
          if (report?.probe !== undefined) this.echoes.onProbe(report.receiver, report.probe, arrivedUs);
        }
        else this.audience.onSubscriptionMessage(message);
      }
    } catch (error) {
      // The loop ends when the socket closes; anything else would be a bug in libzmq's XPUB.
      if (!socket.closed) throw error;
    }
  }

  get closed(): boolean {
    return this.socket.closed;
  }

  close(): void {
    this.release();
  }
}
