import * as zmq from 'zeromq';
import { nowMicros } from './clock';
import { DEFAULTS } from './defaults';
import { ProtocolError } from './errors';
import { decodeFrame, isValidTopic } from './protocol';
import { attach, COMMON_SOCKET_OPTIONS } from './socket-options';
import type { StreamCatalog } from './stream-catalog';

export type ForwarderPattern = 'pubsub' | 'pipeline';

export interface FrameForwarderOptions {
  pattern: ForwarderPattern;
  /** Bound for senders: XSUB (pubsub) or PULL (pipeline). */
  senders: string;
  /** Bound for receivers: XPUB (pubsub) or PUSH (pipeline). */
  receivers: string;
  /** Counts every frame and holds the newest of each stream. */
  catalog: StreamCatalog;
  maxFrameBytes?: number;
  sendHighWaterMark?: number;
  receiveHighWaterMark?: number;
  /** Called for each malformed message (after it is counted); for logging. */
  onRejected?: (error: ProtocolError) => void;
}

const SUBSCRIBE = 1;
const UNSUBSCRIBE = 0;

function isWouldBlock(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EAGAIN';
}

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
 */
export class FrameForwarder {
  /** Receivers connected now (tcp and ipc; inproc peers are not reported by libzmq). */
  receivers = 0;
  /** Prefixes receivers subscribe to (XPUB reports each stream's last unsubscribe). */
  private readonly receiverPrefixes = new Set<string>();
  /** Prefixes this process itself wants (the web gateway), with how many holders. */
  private readonly localDemand = new Map<string, number>();
  private closed = false;

  private constructor(
    readonly pattern: ForwarderPattern,
    private readonly upstream: zmq.XSubscriber | zmq.Pull,
    private readonly downstream: zmq.XPublisher | zmq.Push,
    readonly sendersEndpoint: string,
    readonly receiversEndpoint: string,
    private readonly options: FrameForwarderOptions,
  ) {}

  static async open(options: FrameForwarderOptions): Promise<FrameForwarder> {
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    const upstreamOptions = {
      ...COMMON_SOCKET_OPTIONS,
      receiveHighWaterMark: options.receiveHighWaterMark ?? DEFAULTS.receiveHighWaterMark,
      maxMessageSize: 2 * maxFrameBytes,
    };
    const downstreamOptions = {
      ...COMMON_SOCKET_OPTIONS,
      sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.hubSendHighWaterMark,
      sendTimeout: 0,
    };
    const upstream = options.pattern === 'pubsub' ? new zmq.XSubscriber(upstreamOptions) : new zmq.Pull(upstreamOptions);
    const downstream =
      options.pattern === 'pubsub' ? new zmq.XPublisher({ ...downstreamOptions, verbosity: 'allSubs' }) : new zmq.Push(downstreamOptions);
    try {
      const sendersEndpoint = await attach(upstream, { bind: options.senders });
      const receiversEndpoint = await attach(downstream, { bind: options.receivers });
      return new FrameForwarder(options.pattern, upstream, downstream, sendersEndpoint, receiversEndpoint, options);
    } catch (error) {
      upstream.close();
      downstream.close();
      throw error;
    }
  }

  /** Forwards until close(). */
  async run(): Promise<void> {
    const loops = [this.forwardFrames(), this.countReceivers()];
    if (this.downstream instanceof zmq.XPublisher) loops.push(this.handleSubscriptions(this.downstream));
    try {
      await Promise.all(loops);
    } finally {
      this.close();
    }
  }

  private async forwardFrames(): Promise<void> {
    const { catalog } = this.options;
    const limits = { maxFrameBytes: this.options.maxFrameBytes ?? DEFAULTS.maxFrameBytes };
    for await (const parts of this.upstream) {
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
      if (!(await this.send(parts))) catalog.stats.stream(frame.topic).skipped++;
    }
  }

  /** XPUB reports each subscribe (and each stream's last unsubscribe) as [1|0, prefix...]. */
  private async handleSubscriptions(xpub: zmq.XPublisher): Promise<void> {
    for await (const [message] of xpub) {
      if (!message || message.length === 0 || (message[0] !== SUBSCRIBE && message[0] !== UNSUBSCRIBE)) continue;
      const prefix = message.toString('latin1', 1);
      if (message[0] === SUBSCRIBE) {
        if (isValidTopic(prefix)) this.options.catalog.expect(prefix);
        if (!this.isWanted(prefix)) await this.sendUpstream(SUBSCRIBE, prefix);
        this.receiverPrefixes.add(prefix);
        // XPUB sends to every matching subscriber, so those already subscribed get these again:
        // receivers discard them as repeats (docs/protocol.md, "Repeats and duplicates").
        for (const { parts } of this.options.catalog.matching(prefix)) if (parts) await this.send(parts);
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

  private isWanted(prefix: string): boolean {
    return this.receiverPrefixes.has(prefix) || this.localDemand.has(prefix);
  }

  private async sendUpstream(kind: typeof SUBSCRIBE | typeof UNSUBSCRIBE, prefix: string): Promise<void> {
    if (!(this.upstream instanceof zmq.XSubscriber) || this.upstream.closed) return;
    // libzmq XSUB accepts subscription messages while a receive is pending.
    await this.upstream.send(Buffer.concat([Buffer.of(kind), Buffer.from(prefix, 'latin1')])).catch((error: unknown) => {
      if (!this.upstream.closed) throw error;
    });
  }

  private async countReceivers(): Promise<void> {
    for await (const event of this.downstream.events) {
      if (event.type === 'accept') this.receivers++;
      else if (event.type === 'disconnect') this.receivers = Math.max(0, this.receivers - 1);
    }
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
    if (!this.upstream.closed) this.upstream.close();
    if (!this.downstream.closed) this.downstream.close();
  }
}
