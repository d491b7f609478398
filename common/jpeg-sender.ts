import * as zmq from 'zeromq';
import { DEFAULTS, type SenderPattern, type Wire } from './defaults';
import { encodeImagezmqJpeg } from './imagezmq-protocol';
import { encodeFrame, encodeTopic, type FrameHeader } from './protocol';
import { Audience } from './audience';
import { attach, COMMON_SOCKET_OPTIONS, type Attachment } from './socket-options';

export interface JpegSenderOptions {
  pattern: SenderPattern;
  attachment: Attachment;
  topic: string;
  sendHighWaterMark?: number;
  /** Default 'zerocam'; 'imagezmq' sends imagezmq's send_jpg message with msg = topic. */
  wire?: Wire;
}

/** The frame fields a caller supplies; the sender fills in session and send time. */
export type OutgoingFrame = Omit<FrameHeader, 'session' | 'sendUs'>;

function isWouldBlock(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EAGAIN';
}

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
 */
export class JpegSender {
  readonly session: number;
  private constructor(
    private readonly socket: zmq.XPublisher | zmq.Push,
    readonly topic: string,
    private readonly topicPart: Buffer,
    readonly endpoint: string,
    session: number,
    private readonly audience: Audience,
    private readonly wire: Wire = 'zerocam',
  ) {
    this.session = session;
    if (socket instanceof zmq.XPublisher) void this.readSubscriptions(socket);
  }

  static async open(options: JpegSenderOptions, session: number): Promise<JpegSender> {
    const topicPart = encodeTopic(options.topic);
    const socketOptions = {
      ...COMMON_SOCKET_OPTIONS,
      sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark,
      sendTimeout: 0,
    };
    const socket = options.pattern === 'pub' ? new zmq.XPublisher(socketOptions) : new zmq.Push(socketOptions);
    const inproc = ('bind' in options.attachment ? [options.attachment.bind] : options.attachment.connect).every((e) => e.startsWith('inproc://'));
    const audience = new Audience(topicPart, options.pattern === 'pub' ? 'subscriptions' : inproc ? 'always' : 'peers');
    if (socket instanceof zmq.Push && !inproc) {
      // Listen before attaching, so no connection is missed.
      socket.events.on('accept', () => audience.onPeerConnected());
      socket.events.on('connect', () => audience.onPeerConnected());
      socket.events.on('disconnect', () => audience.onPeerDisconnected());
    }
    try {
      const endpoint = await attach(socket, options.attachment);
      return new JpegSender(socket, options.topic, topicPart, endpoint, session, audience, options.wire);
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  /** Sends one frame. Resolves true if it was queued, false if it was skipped because no peer had room. */
  async sendJpg(frame: OutgoingFrame, jpeg: Buffer, sendUs: number): Promise<boolean> {
    const parts = this.wire === 'imagezmq' ? encodeImagezmqJpeg(this.topic, jpeg) : encodeFrame(this.topicPart, { ...frame, session: this.session, sendUs }, jpeg);
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

  private async readSubscriptions(socket: zmq.XPublisher): Promise<void> {
    try {
      for await (const [message] of socket) if (message) this.audience.onSubscriptionMessage(message);
    } catch (error) {
      // The loop ends when the socket closes; anything else would be a bug in libzmq's XPUB.
      if (!socket.closed) throw error;
    }
  }

  get closed(): boolean {
    return this.socket.closed;
  }

  close(): void {
    if (!this.socket.closed) this.socket.close();
  }
}
