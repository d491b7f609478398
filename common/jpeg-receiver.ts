import * as zmq from 'zeromq';
import { nowMicros } from './clock';
import { DEFAULTS, type ReceiverPattern } from './defaults';
import { ProtocolError } from './errors';
import { decodeFrame, encodeTopic, type Frame } from './protocol';
import { openSecuredSocket, type CurveSocketOptions, type SocketSecurity, type SocketSecurityOptions } from './curve-security';
import { COMMON_SOCKET_OPTIONS, isWouldBlock, type Attachment } from './socket-options';

export interface JpegReceiverOptions {
  pattern: ReceiverPattern;
  attachment: Attachment;
  /** Exact topics to accept; empty accepts every stream. */
  topics?: readonly string[];
  maxFrameBytes?: number;
  receiveHighWaterMark?: number;
  /** CURVE encryption and, when binding, the allowlist; plaintext without it. */
  security?: SocketSecurityOptions | undefined;
}

export type Received =
  | { kind: 'frame'; frame: Frame; receiveUs: number }
  | { kind: 'rejected'; error: ProtocolError; receiveUs: number };

/**
 * Owns one SUB or PULL socket and yields every message as a decoded frame or a rejection.
 * Iteration ends when close() is called. The JPEG is never copied or decoded here.
 */
export class JpegReceiver implements AsyncIterable<Received> {
  private readonly topics: ReadonlySet<string>;
  private readonly limits: { maxFrameBytes: number };

  private constructor(
    private readonly socket: zmq.Subscriber | zmq.Pull,
    readonly endpoint: string,
    options: JpegReceiverOptions,
    private readonly security: SocketSecurity | undefined,
  ) {
    this.topics = new Set(options.topics ?? []);
    this.limits = { maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes };
  }

  static async open(options: JpegReceiverOptions): Promise<JpegReceiver> {
    for (const topic of options.topics ?? []) encodeTopic(topic);
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    const create = (curve: CurveSocketOptions | undefined): zmq.Subscriber | zmq.Pull => {
      const socketOptions = {
        ...COMMON_SOCKET_OPTIONS,
        ...curve,
        receiveHighWaterMark: options.receiveHighWaterMark ?? DEFAULTS.receiveHighWaterMark,
        // Past this, libzmq drops the peer's connection before buffering the part, so a hostile or broken
        // peer cannot exhaust memory. Between maxFrameBytes and this, messages are counted as 'oversized'.
        maxMessageSize: 2 * maxFrameBytes,
      };
      if (options.pattern === 'pull') return new zmq.Pull(socketOptions);
      const subscriber = new zmq.Subscriber(socketOptions);
      const topics = options.topics ?? [];
      // SUB filters by prefix, so "cam1" also lets "cam10" through; the exact check is in the iterator.
      if (topics.length === 0) subscriber.subscribe();
      else subscriber.subscribe(...topics);
      return subscriber;
    };
    const { socket, endpoint, security } = await openSecuredSocket(create, options.attachment, options.security);
    return new JpegReceiver(socket, endpoint, options, security);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Received> {
    while (!this.socket.closed) {
      let parts: Buffer[];
      try {
        parts = await this.socket.receive();
      } catch (error) {
        // zeromq.js rejects a receive with EAGAIN when the socket was signalled readable but the
        // message is not complete yet (seen with CURVE and 140 kB frames); the next wake-up has it.
        if (isWouldBlock(error)) continue;
        throw error;
      }
      const receiveUs = nowMicros();
      let frame: Frame;
      try {
        frame = decodeFrame(parts, this.limits);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        yield { kind: 'rejected', error, receiveUs };
        continue;
      }
      if (this.topics.size > 0 && !this.topics.has(frame.topic)) continue;
      yield { kind: 'frame', frame, receiveUs };
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
