import * as zmq from 'zeromq';
import { BurstHighWaterMark } from './burst-high-water-mark';
import { nowMicros } from '../common/clock';
import { DEFAULTS } from '../common/defaults';
import { ProtocolError } from '../common/errors';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import { isLinkReport } from '../common/wire/link-report';
import { decodeFrame, encodeFrame, isValidTopic, type Frame } from '../common/wire/protocol';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from '../common/sockets/curve-security';
import type { ForwarderPattern, SenderIntake } from './hub-types';
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
  /** Frames queued per receiver; 'auto' (the default) sizes it to the live streams (hub/burst-high-water-mark.ts). */
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
  /** Each new frame, before it goes to receivers (--workers); a promise holds the intake until it settles (back-pressure). */
  onFrame?: (frame: Frame, parts: readonly Buffer[]) => Promise<void> | undefined;
}

/**
 * The HWM the receivers' socket binds with. auto: with pubsub, what no live stream needs (it grows
 * with the first frames); with pipeline, a fixed DEFAULTS.hubPipelineHighWaterMark, because a PUSH
 * pipe accepted after a change would keep the old value (pubsub re-applies it on each subscribe).
 */
function initialHighWaterMark(pattern: ForwarderPattern, configured: number | 'auto'): number {
  if (configured !== 'auto') return configured;
  return pattern === 'pubsub' ? new BurstHighWaterMark().frames : DEFAULTS.hubPipelineHighWaterMark;
}

/** The hub's sender side: a proxy socket whose messages are sent on as received, or a JpegReceiver (rep, sub). */
type Upstream = SecuredSocket<zmq.XSubscriber | zmq.Pull> | JpegReceiver;

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
  /** Prefixes receivers subscribe to (XPUB reports each stream's last unsubscribe). */
  private readonly receiverPrefixes = new Set<string>();
  /** Prefixes this process itself wants (the web gateway), with how many holders. */
  private readonly localDemand = new Map<string, number>();
  private closed = false;
  /** --hwm auto with pubsub: the receivers' HWM follows the live streams; undefined for a fixed HWM. */
  private readonly burst: BurstHighWaterMark | undefined;
  private highWaterMark: number;

  private readonly downstream: zmq.XPublisher | zmq.Push;
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
  }

  /** Frames queued per receiver now (with --hwm auto, it follows the live streams); readable after close(). */
  get sendHighWaterMark(): number {
    return this.highWaterMark;
  }

  /** Receivers connected now (tcp and ipc; inproc peers are not reported by libzmq). */
  get receivers(): number {
    return this.receiverCount.connected;
  }

  static async open(options: FrameForwarderOptions): Promise<FrameForwarder> {
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    const upstreamOptions = {
      ...COMMON_SOCKET_OPTIONS,
      receiveHighWaterMark: options.receiveHighWaterMark ?? DEFAULTS.receiveHighWaterMark,
      maxMessageSize: 2 * maxFrameBytes,
    };
    const downstreamOptions = {
      ...COMMON_SOCKET_OPTIONS,
      sendHighWaterMark: initialHighWaterMark(options.pattern, options.sendHighWaterMark ?? DEFAULTS.hubSendHighWaterMark),
      sendTimeout: 0,
    };
    const receiverCount = { connected: 0 };
    const intake = options.intake ?? { kind: 'proxy' };
    const senders: Upstream =
      intake.kind === 'proxy'
        ? await openSecuredSocket(
            (curve) => (options.pattern === 'pubsub' ? new zmq.XSubscriber({ ...upstreamOptions, ...curve }) : new zmq.Pull({ ...upstreamOptions, ...curve })),
            options.senders,
            options.sendersSecurity,
            options.onPeerCutOff,
          )
        : await JpegReceiver.open({
            pattern: intake.kind,
            wire: intake.wire,
            attachment: options.senders,
            maxFrameBytes,
            security: options.sendersSecurity,
            ...(options.quality !== undefined && { quality: options.quality }),
            ...(options.receiveHighWaterMark !== undefined && { receiveHighWaterMark: options.receiveHighWaterMark }),
            ...(options.onPeerCutOff && { onPeerCutOff: options.onPeerCutOff }),
          });
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
      if (!catalog.add(frame, parts, receiveUs)) continue;
      await this.onLiveFrame(frame, parts);
      if (!(await this.send(parts))) catalog.stats.stream(frame.topic).skipped++;
    }
  }

  /**
   * Frames from REQ or imagezmq senders, already checked (and converted) by the JpegReceiver: each
   * is encoded as a zerocam message once (its JPEG by reference), then cached and sent as any frame.
   * A REQ sender's reply goes out once the frame is accepted: cached and handed to the receivers'
   * socket (or counted as skipped or as a repeat, which a retry would not change).
   */
  private async forwardReceived(receiver: JpegReceiver): Promise<void> {
    const { catalog } = this.options;
    for await (const received of receiver) {
      if (received.kind === 'rejected') {
        catalog.onRejected(received.error.reason);
        this.options.onRejected?.(received.error);
        continue;
      }
      const { frame, receiveUs, reply } = received;
      const parts = encodeFrame(frame.topic, frame.header, frame.jpeg);
      if (catalog.add(frame, parts, receiveUs)) {
        await this.onLiveFrame(frame, parts);
        if (!(await this.send(parts))) catalog.stats.stream(frame.topic).skipped++;
      }
      await reply(true);
    }
  }

  /** A frame about to be sent: with --hwm auto, the receivers' queues grow before it goes if its stream is new; workers get their offer. */
  private async onLiveFrame(frame: Frame, parts: readonly Buffer[]): Promise<void> {
    const changed = this.burst?.onFrame(frame.topic, Date.now());
    if (changed !== undefined) this.applyHighWaterMark(changed);
    await this.options.onFrame?.(frame, parts);
  }

  /**
   * libzmq applies a new SNDHWM to the pipes the socket has now (socket_base_t::update_pipe_options);
   * a pipe accepted later starts with the value the socket had when it bound. So it is set again on
   * every subscribe, which comes after the receiver's pipe is attached. Frames already queued stay.
   */
  private applyHighWaterMark(frames: number): void {
    if (this.downstream.closed) return;
    this.downstream.sendHighWaterMark = frames;
    this.highWaterMark = frames;
  }

  /**
   * XPUB reports each subscribe (and each stream's last unsubscribe) as [1|0, prefix...], and passes
   * on anything else a receiver sends: zerocam receivers' link reports.
   */
  private async handleSubscriptions(xpub: zmq.XPublisher): Promise<void> {
    for await (const [message] of xpub) {
      if (message && isLinkReport(message)) this.options.onLinkReport?.(message);
      if (!message || message.length === 0 || (message[0] !== SUBSCRIBE && message[0] !== UNSUBSCRIBE)) continue;
      const prefix = message.toString('latin1', 1);
      if (message[0] === SUBSCRIBE) {
        if (isValidTopic(prefix)) this.options.catalog.expect(prefix);
        if (!this.isWanted(prefix)) await this.sendUpstream(SUBSCRIBE, prefix);
        this.receiverPrefixes.add(prefix);
        // XPUB sends to every matching subscriber, so those already subscribed get these again:
        // receivers discard them as repeats (docs/protocol.md, "Repeats and duplicates").
        const cached = [...this.options.catalog.matching(prefix)].flatMap(({ parts }) => (parts ? [parts] : []));
        // With --hwm auto the queues make room for every cached frame (stalled streams' too) on top of
        // what they hold for the replay, then go back to the live streams' size, which also reaches
        // the new receiver's pipe.
        if (this.burst) this.applyHighWaterMark(this.burst.frames + cached.length);
        for (const parts of cached) await this.send(parts);
        if (this.burst) this.applyHighWaterMark(this.burst.frames);
      } else if (this.receiverPrefixes.delete(prefix) && !this.isWanted(prefix)) {
        await this.sendUpstream(UNSUBSCRIBE, prefix);
      }
    }
  }

  /**
   * Subscribes upstream on this process's own behalf (pubsub), alongside the receivers; returns
   * the release function. Each prefix goes upstream once, and is withdrawn when nobody wants it.
   */
  demand(prefix: string): () => void {
    if (!this.isWanted(prefix)) void this.sendUpstream(SUBSCRIBE, prefix);
    this.localDemand.set(prefix, (this.localDemand.get(prefix) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const holders = (this.localDemand.get(prefix) ?? 1) - 1;
      if (holders > 0) this.localDemand.set(prefix, holders);
      else this.localDemand.delete(prefix);
      if (!this.isWanted(prefix)) void this.sendUpstream(UNSUBSCRIBE, prefix);
    };
  }

  /** Whether a receiver or this process wants `topic` now (pipeline: always, as frames go to whoever is there). */
  isWatched(topic: string): boolean {
    if (this.pattern === 'pipeline') return true;
    for (const prefix of this.receiverPrefixes) if (topic.startsWith(prefix)) return true;
    for (const prefix of this.localDemand.keys()) if (topic.startsWith(prefix)) return true;
    return false;
  }

  private isWanted(prefix: string): boolean {
    return this.receiverPrefixes.has(prefix) || this.localDemand.has(prefix);
  }

  private async sendUpstream(kind: typeof SUBSCRIBE | typeof UNSUBSCRIBE, prefix: string): Promise<void> {
    const upstream = this.senders instanceof JpegReceiver ? undefined : this.senders.socket;
    if (!(upstream instanceof zmq.XSubscriber) || upstream.closed) return;
    // libzmq XSUB accepts subscription messages while a receive is pending.
    await upstream.send(Buffer.concat([Buffer.of(kind), Buffer.from(prefix, 'latin1')])).catch((error: unknown) => {
      if (!upstream.closed) throw error;
    });
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
    this.senders.close();
    this.receiversSide.close();
  }
}
