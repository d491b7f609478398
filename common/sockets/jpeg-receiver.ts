import * as zmq from 'zeromq';
import { nowMicros } from '../clock';
import { DEFAULTS, type ReceiverPattern, type ReplyPattern, type Wire } from '../defaults';
import { ProtocolError } from '../errors';
import { ImagezmqFramer } from '../wire/imagezmq-protocol';
import { LinkReporter } from './link-reporter';
import { ClockExchanges } from './clock-exchanges';
import type { ClockEstimate } from '../stats/clock-offset';
import { decodeFrame, encodeTopic, type Frame } from '../wire/protocol';
import { openSecuredSocket, type CurveSocketOptions, type SocketSecurityOptions } from './curve-security';
import type { StreamLimits } from '../stats/stream-bounds';
import { COMMON_SOCKET_OPTIONS, receiveUntilClosed, type Attachment } from './socket-options';

export interface JpegReceiverOptions {
  /** rep: acknowledged delivery; every message gets one reply (see Received.reply). */
  pattern: ReceiverPattern | ReplyPattern;
  attachment: Attachment;
  /** Default 'zerocam'. */
  wire?: Wire;
  /** JPEG quality for imagezmq raw arrays, which are encoded once on arrival. */
  quality?: number;
  /** A connected peer that libzmq cut off for good (an oversized message) and that was redialled. */
  onPeerCutOff?: (endpoint: string) => void;
  /** Exact topics to accept; empty accepts every stream. */
  topics?: readonly string[];
  maxFrameBytes?: number;
  receiveHighWaterMark?: number;
  /** CURVE encryption and, when binding, the allowlist; plaintext without it. */
  security?: SocketSecurityOptions | undefined;
  /** The streams its link reports cover (--stream-ttl, --max-streams); the defaults without it. */
  streamLimits?: StreamLimits | undefined;
}

/**
 * With pattern 'rep', `reply` answers the sender: accepted → "OK", otherwise "ERR <why>". Call it
 * once the frame is safe (e.g. saved); if the consumer has not called it when it asks for the next
 * message, the receiver answers for it ("OK" for a frame, "ERR <reason>" for a rejected message).
 * Without 'rep' it does nothing.
 */
export type Reply = (accepted: boolean, why?: string) => Promise<void>;

export type Received =
  /**
   * clock: the sender's clock offset as this receiver's exchanges with it measure it (docs/protocol.md,
   * "Clock offsets"); undefined when there is none (a sender that cannot answer: latency stays uncorrected).
   */
  | { kind: 'frame'; frame: Frame; receiveUs: number; reply: Reply; clock: ClockEstimate | undefined }
  | { kind: 'rejected'; error: ProtocolError; receiveUs: number; reply: Reply };

type Socket = zmq.XSubscriber | zmq.Pull | zmq.Reply;

/**
 * Owns one SUB or PULL socket and yields every message as a decoded frame or a rejection.
 * Iteration ends when close() is called. The JPEG is never copied or decoded here.
 *
 * SUB is an XSUB socket: it subscribes like a SUB, and also sends link reports upstream (what it
 * got of each stream, common/sockets/link-reporter.ts), so a sender learns what its link delivers. Senders
 * and hubs that do not read them (PUB sockets, imagezmq) drop them unseen.
 */
export class JpegReceiver implements AsyncIterable<Received> {
  private readonly topics: ReadonlySet<string>;
  private readonly limits: { maxFrameBytes: number };
  private readonly decode: (parts: Buffer[]) => Frame | Promise<Frame>;
  private readonly reporter: LinkReporter | undefined;
  /** SUB and REP with zerocam's wire: the clock exchanges with each sender. */
  private readonly clock: ClockExchanges | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly endpoint: string,
    options: JpegReceiverOptions,
    private readonly release: () => void,
  ) {
    this.topics = new Set(options.topics ?? []);
    this.limits = { maxFrameBytes: options.maxFrameBytes ?? DEFAULTS.maxFrameBytes };
    if (options.wire === 'imagezmq') {
      const framer = new ImagezmqFramer(this.limits, options.quality ?? DEFAULTS.quality);
      this.decode = (parts) => framer.toFrame(parts);
    } else {
      this.decode = (parts) => decodeFrame(parts, this.limits);
    }
    if (options.wire !== 'imagezmq' && !(socket instanceof zmq.Pull)) this.clock = new ClockExchanges();
    const clock = this.clock;
    if (socket instanceof zmq.XSubscriber && clock) {
      this.reporter = new LinkReporter(
        (message) => sendUpstream(socket, message),
        DEFAULTS.linkReportIntervalMs,
        options.streamLimits,
        (nowUs) => clock.probe(nowUs),
        (topic, nowUs) => clock.estimate(topic, nowUs) !== undefined,
      );
    }
  }

  static async open(options: JpegReceiverOptions): Promise<JpegReceiver> {
    for (const topic of options.topics ?? []) encodeTopic(topic);
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    const create = (curve: CurveSocketOptions | undefined): Socket => {
      const socketOptions = {
        ...COMMON_SOCKET_OPTIONS,
        ...curve,
        receiveHighWaterMark: options.receiveHighWaterMark ?? DEFAULTS.receiveHighWaterMark,
        // Past this, libzmq drops the peer's connection before buffering the part, so a hostile or broken
        // peer cannot exhaust memory. Between maxFrameBytes and this, messages are counted as 'oversized'.
        maxMessageSize: 2 * maxFrameBytes,
      };
      if (options.pattern === 'rep') return new zmq.Reply(socketOptions);
      if (options.pattern === 'pull') return new zmq.Pull(socketOptions);
      return new zmq.XSubscriber(socketOptions);
    };
    const { socket, endpoint, close } = await openSecuredSocket(create, options.attachment, options.security, options.onPeerCutOff);
    if (socket instanceof zmq.XSubscriber) {
      // SUB filters by prefix, so "cam1" also lets "cam10" through; the exact check is in the iterator.
      // XSUB keeps its subscriptions and sends them to every peer, including those it reaches later.
      // imagezmq's first part is JSON metadata, not the topic, so no topic prefix can match it: take
      // everything and let the iterator pick the topics out.
      const prefixes = options.wire !== 'imagezmq' && options.topics?.length ? options.topics : [''];
      for (const topic of prefixes) {
        await sendUpstream(socket, Buffer.concat([Buffer.of(1), Buffer.from(topic, 'ascii')]));
      }
    }
    return new JpegReceiver(socket, endpoint, options, close);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Received> {
    for await (const parts of receiveUntilClosed(this.socket)) {
      const receiveUs = nowMicros();
      let answered = false;
      let frame: Frame | undefined;
      const reply: Reply = async (accepted, why) => {
        if (answered || !(this.socket instanceof zmq.Reply) || this.socket.closed) return;
        answered = true;
        if (frame) this.clock?.onReplied(frame, nowMicros());
        try {
          await this.socket.send(accepted ? DEFAULTS.replyAccepted : `ERR ${why ?? 'rejected'}`);
        } catch (error) {
          // Closing while a reply is on its way is a normal stop; the sender times out and retries.
          if (!this.socket.closed) throw error;
        }
      };
      try {
        frame = await this.decode(parts);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        yield { kind: 'rejected', error, receiveUs, reply };
        await reply(false, error.reason);
        continue;
      }
      // A REQ sender of a stream nobody here wants is still answered, or it would wait for nothing.
      if (this.topics.size === 0 || this.topics.has(frame.topic)) {
        this.reporter?.onFrame(frame);
        const clock = this.clock?.onFrame(frame, receiveUs);
        yield { kind: 'frame', frame, receiveUs, reply, clock };
      }
      await reply(true);
    }
  }

  /** A stream's sender clock against this receiver's at `nowUs`, if measured: for times it stamped that arrive by other ways (results). */
  clockEstimate(topic: string, nowUs: number): ClockEstimate | undefined {
    return this.clock?.estimate(topic, nowUs);
  }

  get closed(): boolean {
    return this.socket.closed;
  }

  close(): void {
    this.reporter?.close();
    this.release();
  }
}

/** XSUB never blocks a send (it drops for a full pipe); a send racing close() is a normal stop. */
async function sendUpstream(socket: zmq.XSubscriber, message: Buffer): Promise<void> {
  try {
    await socket.send(message);
  } catch (error) {
    if (!socket.closed) throw error;
  }
}
