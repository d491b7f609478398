import * as zmq from 'zeromq';
import { BurstHighWaterMark } from './burst-high-water-mark';
import { nowMicros } from '../common/clock';
import { DEFAULTS } from '../common/defaults';
import { ProtocolError } from '../common/errors';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import { isLinkReport } from '../common/wire/link-report';
import { decodeFrame, encodeFrame, isValidTopic, type Frame } from '../common/wire/protocol';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from '../common/sockets/curve-security';
import { StreamDemand } from './demand';
import { ClockRelay } from './clock-relay';
import { ClockExchanges } from '../common/sockets/clock-exchanges';
import { LinkReporter } from '../common/sockets/link-reporter';
import type { ForwarderPattern, SenderIntake } from './hub-types';
import { openIntake, type Upstream } from './intake';
import { COMMON_SOCKET_OPTIONS, isWouldBlock, receiveUntilClosed, type Attachment } from '../common/sockets/socket-options';
import type { StreamCatalog } from '../common/web/stream-catalog';

export interface FrameForwarderOptions {
  pattern: ForwarderPattern;
  /** Where senders reach the hub: bound (senders --connect), or connected to senders that bind. */
  senders: Attachment;
  /** How frames enter (resolveSenderIntake); default proxy: XSUB (pubsub) or PULL (pipeline). */
  intake?: SenderIntake;
  /** JPEG quality for imagezmq raw arrays, encoded once on arrival. */
  quality?: number;
  /** Bound for receivers: XPUB (pubsub) or PUSH (pipeline). */
  receivers: string;
  /** Counts every frame and holds the newest of each stream. */
  catalog: StreamCatalog;
  maxFrameBytes?: number;
  /** Frames queued per receiver, fixed at bind; 'auto' (the default): DEFAULTS.hubPubsubHighWaterMark or hubPipelineHighWaterMark. */
  sendHighWaterMark?: number | 'auto';
  receiveHighWaterMark?: number;
  /** Called with each link report a receiver sends upstream (pubsub); for the hub's view of its viewers' links. */
  onLinkReport?: (message: Buffer) => void;
  /** Called for each malformed message (after it is counted); for logging. */
  onRejected?: (error: ProtocolError) => void;
  /** CURVE on the senders' side, with its own allowlist (ZAP domain); plaintext without it. */
  sendersSecurity?: SocketSecurityOptions | undefined;
  /** CURVE on the receivers' side, with its own allowlist (ZAP domain); plaintext without it. */
  receiversSecurity?: SocketSecurityOptions | undefined;
  /** A connected sender that libzmq cut off for good (an oversized message) and that was redialled. */
  onPeerCutOff?: (endpoint: string) => void;
  /**
   * --hwm auto with pubsub: the live streams need more frames per receiver (`needed`) than the fixed
   * queue (`frames`) for a burst of one frame from each; called each time that need grows. For logging.
   */
  onQueueShort?: (needed: number, frames: number) => void;
  /** Each new frame, before it goes to receivers (--workers); a promise holds the intake until it settles (back-pressure). */
  onFrame?: (frame: Frame, parts: readonly Buffer[]) => Promise<void> | undefined;
}

/**
 * The HWM the receivers' socket binds with, and keeps: never set it on the bound socket. libzmq
 * 4.3.5 (the one zeromq.js 6.8.0 bundles) sends a new ZMQ_SNDHWM to the far end of every pipe the
 * socket still lists (socket_base_t::update_pipe_options, pipe_t::send_hwms_to_peer), including a
 * pipe whose receiver just left: its far end in the I/O thread has acked the termination and freed
 * itself, so the I/O thread ran the command on freed memory and the hub died of SIGSEGV when
 * receivers came and went (test/hub-churn.test.ts). Fixed upstream after 4.3.5, in no release yet:
 * https://github.com/zeromq/libzmq/pull/4647 (send only while the pipe is active; the same race as
 * https://github.com/zeromq/libzmq/issues/4524). auto: DEFAULTS.hubPubsubHighWaterMark (a burst of
 * one frame from each of several cameras) or DEFAULTS.hubPipelineHighWaterMark.
 */
function initialHighWaterMark(pattern: ForwarderPattern, configured: number | 'auto'): number {
  if (configured !== 'auto') return configured;
  return pattern === 'pubsub' ? DEFAULTS.hubPubsubHighWaterMark : DEFAULTS.hubPipelineHighWaterMark;
}

const SUBSCRIBE = 1;
const UNSUBSCRIBE = 0;

/**
 * ZeroMQ's proxy between senders and receivers, with a check of every message and a last-value cache.
 *
 * pubsub:   XSUB (senders) -> XPUB (receivers). Receivers' subscriptions go upstream as they come,
 *           so a sender nobody subscribes to can idle; every subscribe (repeats too: XPUB verbose)
 *           is answered with the cached newest frame of each stream it matches.
 * pipeline: PULL (senders) -> PUSH (receivers), the streamer device: each frame goes to one receiver.
 *
 * Each message is validated with the protocol's decoder (which neither copies nor decodes the JPEG)
 * and sent on as the very buffers received. Malformed ones are counted and dropped. Queues are
 * bounded by the HWMs: XPUB drops per slow subscriber, PUSH skips when no receiver has room.
 *
 * Other intakes (REQ senders, imagezmq senders: hub/intake.ts) replace XSUB/PULL with a
 * JpegReceiver; their frames are encoded as zerocam messages once and then go the same way.
 */
export class FrameForwarder {
  /** Who wants which streams: receivers' subscriptions and the gateway's own, forwarded upstream. */
  private readonly wanted: StreamDemand;
  private closed = false;
  private readonly highWaterMark: number;
  /** --hwm auto with pubsub: counts the live streams, to say when their bursts outgrow the fixed queue. */
  private readonly burst: BurstHighWaterMark | undefined;
  private warnedNeed = 0;

  private readonly downstream: zmq.XPublisher | zmq.Push;
  /** The hub's clock exchanges with its senders (an XSUB intake probes them in its own link reports). */
  private readonly upstreamClock = new ClockExchanges();
  /** XSUB intake: the hub's link reports to its senders, with clock probes. */
  private readonly reporter: LinkReporter | undefined;
  /** Answers the viewers' clock probes on each camera's clock (hub/clock-relay.ts). */
  private readonly relay = new ClockRelay();
  /** zeromq.js takes one send at a time on a socket: subscriptions and reports go up in turn. */
  private upstreamSends: Promise<void> = Promise.resolve();
  readonly sendersEndpoint: string;
  readonly receiversEndpoint: string;

  private constructor(
    readonly pattern: ForwarderPattern,
    private readonly senders: Upstream,
    private readonly receiversSide: SecuredSocket<zmq.XPublisher | zmq.Push>,
    private readonly receiverCount: { connected: number },
    private readonly options: FrameForwarderOptions,
  ) {
    this.downstream = receiversSide.socket;
    this.sendersEndpoint = senders.endpoint;
    this.receiversEndpoint = receiversSide.endpoint;
    this.highWaterMark = this.downstream.sendHighWaterMark;
    this.burst = pattern === 'pubsub' && (options.sendHighWaterMark ?? DEFAULTS.hubSendHighWaterMark) === 'auto' ? new BurstHighWaterMark() : undefined;
    this.wanted = new StreamDemand(pattern, (subscribe, prefix) => this.sendUpstream(subscribe, prefix));
    if (!(senders instanceof JpegReceiver) && senders.socket instanceof zmq.XSubscriber) {
      this.reporter = new LinkReporter(
        (message) => this.sendUpstreamMessage(message),
        DEFAULTS.linkReportIntervalMs,
        this.options.catalog.stats.bounds.limits,
        (nowUs) => this.upstreamClock.probe(nowUs),
        (topic, nowUs) => this.upstreamClock.estimate(topic, nowUs) !== undefined,
      );
    }
  }

  /** Frames queued per receiver (fixed when the receivers' socket binds); readable after close(). */
  get sendHighWaterMark(): number {
    return this.highWaterMark;
  }

  /** Receivers connected now (tcp and ipc; inproc peers are not reported by libzmq). */
  get receivers(): number {
    return this.receiverCount.connected;
  }

  static async open(options: FrameForwarderOptions): Promise<FrameForwarder> {
    const downstreamOptions = {
      ...COMMON_SOCKET_OPTIONS,
      sendHighWaterMark: initialHighWaterMark(options.pattern, options.sendHighWaterMark ?? DEFAULTS.hubSendHighWaterMark),
      sendTimeout: 0,
    };
    const receiverCount = { connected: 0 };
    const senders = await openIntake(options.intake ?? { kind: 'proxy' }, options);
    try {
      const receiversSide = await openSecuredSocket(
        (curve) => {
          const downstream =
            options.pattern === 'pubsub' ? new zmq.XPublisher({ ...downstreamOptions, ...curve, verbosity: 'allSubs' }) : new zmq.Push({ ...downstreamOptions, ...curve });
          // Listeners, not iteration: CURVE watches the same socket's events. Listening before binding misses no one.
          downstream.events.on('accept', () => receiverCount.connected++);
          downstream.events.on('disconnect', () => {
            receiverCount.connected = Math.max(0, receiverCount.connected - 1);
          });
          return downstream;
        },
        { bind: options.receivers },
        options.receiversSecurity,
      );
      return new FrameForwarder(options.pattern, senders, receiversSide, receiverCount, options);
    } catch (error) {
      senders.close();
      throw error;
    }
  }

  /** Forwards until close(). */
  async run(): Promise<void> {
    const loops = [this.senders instanceof JpegReceiver ? this.forwardReceived(this.senders) : this.forwardFrames(this.senders.socket)];
    if (this.downstream instanceof zmq.XPublisher) loops.push(this.handleSubscriptions(this.downstream));
    try {
      await Promise.all(loops);
    } finally {
      this.close();
    }
  }

  private async forwardFrames(upstream: zmq.XSubscriber | zmq.Pull): Promise<void> {
    const { catalog } = this.options;
    const limits = { maxFrameBytes: this.options.maxFrameBytes ?? DEFAULTS.maxFrameBytes };
    for await (const parts of receiveUntilClosed(upstream)) {
      const receiveUs = nowMicros();
      let frame;
      try {
        frame = decodeFrame(parts, limits);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        catalog.onRejected(error.reason);
        this.options.onRejected?.(error);
        continue;
      }
      this.reporter?.onFrame(frame);
      const clock = this.upstreamClock.onFrame(frame, receiveUs);
      if (!catalog.add(frame, parts, receiveUs, clock)) continue;
      await this.onLiveFrame(frame, parts);
      if (!(await this.send(this.relay.stamp(frame, parts, clock)))) catalog.stats.stream(frame.topic).skipped++;
    }
  }

  /**
   * Frames from REQ or imagezmq senders, already checked (and converted) by the JpegReceiver: each
   * is encoded as a zerocam message once (its JPEG by reference), then cached and sent as any frame.
   * A REQ sender's reply goes out once the frame is accepted: cached and handed to the receivers'
   * socket (or counted as skipped or as a repeat, which a retry would not change). A frame of a new
   * stream refused for --max-streams is answered with an error.
   */
  private async forwardReceived(receiver: JpegReceiver): Promise<void> {
    const { catalog } = this.options;
    for await (const received of receiver) {
      if (received.kind === 'rejected') {
        catalog.onRejected(received.error.reason);
        this.options.onRejected?.(received.error);
        continue;
      }
      const { frame, receiveUs, reply, clock } = received;
      // The clock field answers the hub, not the receivers behind it (docs/protocol.md, "Clock offsets").
      const parts = encodeFrame(frame.topic, { ...frame.header, clock: undefined }, frame.jpeg);
      if (catalog.add(frame, parts, receiveUs, clock)) {
        await this.onLiveFrame(frame, parts);
        if (!(await this.send(this.relay.stamp(frame, parts, clock)))) catalog.stats.stream(frame.topic).skipped++;
      }
      const refused = !catalog.stats.bounds.has(frame.topic);
      await reply(!refused, refused ? 'too-many-streams' : undefined);
    }
  }

  /**
   * A frame about to be sent: with --hwm auto (pubsub), says when the live streams need a longer
   * queue than the fixed one (which is never changed); workers get their offer (--workers).
   */
  private async onLiveFrame(frame: Frame, parts: readonly Buffer[]): Promise<void> {
    const needed = this.burst?.onFrame(frame.topic, Date.now());
    if (needed !== undefined && needed > this.highWaterMark && needed > this.warnedNeed) {
      this.warnedNeed = needed;
      this.options.onQueueShort?.(needed, this.highWaterMark);
    }
    await this.options.onFrame?.(frame, parts);
  }

  /**
   * XPUB reports each subscribe (and each stream's last unsubscribe) as [1|0, prefix...], and passes
   * on anything else a receiver sends: zerocam receivers' link reports.
   */
  private async handleSubscriptions(xpub: zmq.XPublisher): Promise<void> {
    for await (const [message] of xpub) {
      if (message && isLinkReport(message)) {
        this.options.onLinkReport?.(message);
        this.relay.onReport(message);
      }
      if (!message || message.length === 0 || (message[0] !== SUBSCRIBE && message[0] !== UNSUBSCRIBE)) continue;
      const prefix = message.toString('latin1', 1);
      if (message[0] === SUBSCRIBE) {
        if (isValidTopic(prefix)) this.options.catalog.expect(prefix);
        await this.wanted.onSubscribe(prefix);
        // XPUB sends to every matching subscriber, so those already subscribed get these again:
        // receivers discard them as repeats (docs/protocol.md, "Repeats and duplicates").
        const cached = [...this.options.catalog.matching(prefix)].flatMap(({ parts }) => (parts ? [parts] : []));
        for (const parts of cached) await this.send(parts);
      } else {
        await this.wanted.onUnsubscribe(prefix);
      }
    }
  }

  /** Wants the streams whose topic starts with `prefix` on this process's own behalf (the gateway); returns the release function. */
  demand(prefix: string): () => void {
    return this.wanted.demand(prefix);
  }

  /** Whether a receiver or this process wants `topic` now. */
  isWatched(topic: string): boolean {
    return this.wanted.isWatched(topic);
  }

  /** Only an XSUB intake carries subscriptions upstream; REQ and imagezmq senders always send. */
  private async sendUpstream(subscribe: boolean, prefix: string): Promise<void> {
    const kind = subscribe ? SUBSCRIBE : UNSUBSCRIBE;
    await this.sendUpstreamMessage(Buffer.concat([Buffer.of(kind), Buffer.from(prefix, 'latin1')]));
  }

  /** A subscription or a link report, up an XSUB intake, one send at a time. */
  private sendUpstreamMessage(message: Buffer): Promise<void> {
    const upstream = this.senders instanceof JpegReceiver ? undefined : this.senders.socket;
    if (!(upstream instanceof zmq.XSubscriber)) return Promise.resolve();
    // libzmq XSUB accepts messages while a receive is pending, and never blocks a send.
    const sent = this.upstreamSends.then(async () => {
      if (upstream.closed) return;
      await upstream.send(message).catch((error: unknown) => {
        if (!upstream.closed) throw error;
      });
    });
    this.upstreamSends = sent.catch(() => undefined);
    return sent;
  }

  /**
   * Resolves false if the frame was skipped (PUSH with no receiver room). With sendTimeout 0 a send
   * never waits, so the frame loop and the cache never have two sends in flight (zeromq.js allows one).
   */
  private async send(parts: readonly Buffer[]): Promise<boolean> {
    if (this.downstream.closed) return false;
    try {
      await this.downstream.send(parts as Buffer[]);
      return true;
    } catch (error) {
      if (isWouldBlock(error) || this.downstream.closed) return false;
      throw error;
    }
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reporter?.close();
    this.senders.close();
    this.receiversSide.close();
  }
}
