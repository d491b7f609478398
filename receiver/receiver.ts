import { DEFAULTS, type ReceiverPattern } from '../common/defaults';
import { describeError, type RejectReason } from '../common/errors';
import type { CurveSettings } from '../common/curve-security';
import { JpegReceiver, type Received } from '../common/jpeg-receiver';
import type { Logger } from '../common/log';
import type { Attachment } from '../common/socket-options';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { FrameStore } from './frame-store';
import { LatestFrameMailbox } from './latest-frame-mailbox';

export interface ReceiverOptions {
  pattern: ReceiverPattern;
  attachment: Attachment;
  /** Exact stream names to accept; empty = all. */
  topics: readonly string[];
  /** Save frames here; undefined = only count them. */
  out?: string | undefined;
  /** Save every Nth frame of each stream. */
  every: number;
  maxFiles?: number | undefined;
  fsync: boolean;
  /** Stop after this many frames (all streams together). */
  frames?: number | undefined;
  durationS?: number | undefined;
  maxFrameBytes: number;
  receiveHighWaterMark: number;
  /** CURVE: on when a key (binding) or a server key (connecting) is given. */
  curve?: CurveSettings | undefined;
}

type FrameReceived = Extract<Received, { kind: 'frame' }>;

/**
 * The headless receiver: owns its socket and (with --out) its frame store. Receiving never waits
 * on the disk: frames go through a newest-frame-wins mailbox to a separate save loop.
 */
export class Receiver {
  readonly stats = new ReceiverStats(DEFAULTS.rateWindowMs);
  private readonly mailbox = new LatestFrameMailbox<FrameReceived>();
  private readonly warnedReasons = new Set<RejectReason>();
  private closed = false;

  private constructor(
    private readonly options: ReceiverOptions,
    private readonly socket: JpegReceiver,
    private readonly store: FrameStore | undefined,
    private readonly log: Logger,
  ) {}

  /** Opens the output directory first, so a bad --out fails before any socket exists. */
  static async open(options: ReceiverOptions, log: Logger): Promise<Receiver> {
    const store = options.out === undefined ? undefined : await FrameStore.open({ dir: options.out, maxFiles: options.maxFiles, fsync: options.fsync });
    // Denials are counted in the stats, which exist once the receiver does.
    let receiver: Receiver | undefined;
    const onDenied = (): void => {
      if (receiver) receiver.stats.denied++;
    };
    const security = options.curve ? { curve: options.curve, log, onDenied } : undefined;
    try {
      const socket = await JpegReceiver.open({
        security,
        pattern: options.pattern,
        attachment: options.attachment,
        topics: options.topics,
        maxFrameBytes: options.maxFrameBytes,
        receiveHighWaterMark: options.receiveHighWaterMark,
      });
      receiver = new Receiver(options, socket, store, log);
      return receiver;
    } catch (error) {
      await store?.close();
      throw error;
    }
  }

  get endpoint(): string {
    return this.socket.endpoint;
  }

  /** Receives until `signal` aborts or --frames / --duration is reached, then saves what is pending. */
  async run(signal: AbortSignal): Promise<void> {
    const stop = (): void => this.socket.close();
    signal.addEventListener('abort', stop, { once: true });
    const timer = this.options.durationS === undefined ? undefined : setTimeout(stop, this.options.durationS * 1000);
    const saving = this.store ? this.saveLoop(this.store) : Promise.resolve();
    try {
      if (!signal.aborted) await this.receiveLoop();
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      this.socket.close();
      this.mailbox.close();
      await saving;
    }
  }

  private async receiveLoop(): Promise<void> {
    const { frames: limit, every } = this.options;
    let total = 0;
    for await (const received of this.socket) {
      if (received.kind === 'rejected') {
        this.onRejected(received.error.reason, received.error.message);
        continue;
      }
      const stream = this.stats.onFrame(received.frame, received.receiveUs);
      if (this.store && (stream.frames - 1) % every === 0 && this.mailbox.put(received.frame.topic, received)) {
        stream.skipped++;
      }
      if (limit !== undefined && ++total >= limit) break;
    }
  }

  private async saveLoop(store: FrameStore): Promise<void> {
    let failing = false;
    for (let item = await this.mailbox.take(); item; item = await this.mailbox.take()) {
      try {
        await store.save(item.frame, item.receiveUs);
        this.stats.stream(item.frame.topic).saved++;
        if (failing) this.log.info(`saving to ${store.dir} works again`);
        failing = false;
      } catch (error) {
        this.stats.saveErrors++;
        // Once per outage, not once per frame; the count is in the stats.
        if (!failing) this.log.error(describeError(error));
        failing = true;
      }
    }
  }

  private onRejected(reason: RejectReason, message: string): void {
    this.stats.onRejected(reason);
    if (this.warnedReasons.has(reason)) return;
    this.warnedReasons.add(reason);
    this.log.warn(`dropped a malformed message (${reason}): ${message}; further ones are only counted`);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.mailbox.close();
    await this.store?.close();
  }
}
