import * as zmq from 'zeromq';
import { DEFAULTS, type SenderPattern } from './defaults';
import { encodeFrame, encodeTopic, type FrameHeader } from './protocol';
import { openSecuredSocket, type SocketSecurity, type SocketSecurityOptions } from './curve-security';
import { COMMON_SOCKET_OPTIONS, isWouldBlock, type Attachment } from './socket-options';

export interface JpegSenderOptions {
  pattern: SenderPattern;
  attachment: Attachment;
  topic: string;
  sendHighWaterMark?: number;
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
 */
export class JpegSender {
  readonly session: number;
  private readonly topicPart: Buffer;

  private constructor(
    private readonly socket: zmq.Publisher | zmq.Push,
    readonly topic: string,
    readonly endpoint: string,
    session: number,
    private readonly security: SocketSecurity | undefined,
  ) {
    this.topicPart = encodeTopic(topic);
    this.session = session;
  }

  static async open(options: JpegSenderOptions, session: number): Promise<JpegSender> {
    encodeTopic(options.topic);
    const { socket, endpoint, security } = await openSecuredSocket(
      (curve) => {
        const socketOptions = {
          ...COMMON_SOCKET_OPTIONS,
          ...curve,
          sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark,
          sendTimeout: 0,
        };
        return options.pattern === 'pub' ? new zmq.Publisher(socketOptions) : new zmq.Push(socketOptions);
      },
      options.attachment,
      options.security,
    );
    return new JpegSender(socket, options.topic, endpoint, session, security);
  }

  /** Sends one frame. Resolves true if it was queued, false if it was skipped because no peer had room. */
  async sendJpg(frame: OutgoingFrame, jpeg: Buffer, sendUs: number): Promise<boolean> {
    const parts = encodeFrame(this.topicPart, { ...frame, session: this.session, sendUs }, jpeg);
    try {
      await this.socket.send(parts);
      return true;
    } catch (error) {
      if (isWouldBlock(error) && !this.socket.closed) return false;
      throw error;
    }
  }

  get closed(): boolean {
    return this.socket.closed;
  }

  close(): void {
    this.security?.close();
    if (!this.socket.closed) this.socket.close();
  }
}
