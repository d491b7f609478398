import { DEFAULTS, type ReceiverPattern, type ReplyPattern, type Wire } from '../common/defaults';
import { describeError, type RejectReason } from '../common/errors';
import type { CurveSettings } from '../common/curve-security';
import { JpegReceiver, type Received } from '../common/jpeg-receiver';
import type { Logger } from '../common/log';
import type { Attachment } from '../common/socket-options';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { warnOnFirstRefusal, type StreamLimits } from '../common/stats/stream-bounds';
import { FrameStore } from './frame-store';
import { LatestFrameMailbox } from './latest-frame-mailbox';

export interface ReceiverOptions {
  /** rep: every frame is acknowledged, and with --out only once it is on disk. */
  pattern: ReceiverPattern | ReplyPattern;
  attachment: Attachment;
  /** Default 'zerocam'. */
  wire?: Wire;
  /** JPEG quality for imagezmq raw arrays, encoded once on arrival. */
  quality?: number;
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
  /** --stream-ttl, --max-streams: the streams it keeps stats for; the defaults without it. */
  streamLimits?: StreamLimits | undefined;
}

type FrameReceived = Extract<Received, { kind: 'frame' }>;

/**
 * The headless receiver: owns its socket and (with --out) its frame store. Receiving never waits
 * on the disk: frames go through a newest-frame-wins mailbox to a separate save loop.
 */
export class Receiver {
  readonly stats: ReceiverStats;
  private readonly mailbox = new LatestFrameMailbox<FrameReceived>();
  private readonly warnedReasons = new Set<RejectReason>();
  private closed = false;
  private saveFailing = false;

  private constructor(
    private readonly options: ReceiverOptions,
    private readonly socket: JpegReceiver,
    private readonly store: FrameStore | undefined,
    private readonly log: Logger,
  ) {
    this.stats = new ReceiverStats(DEFAULTS.rateWindowMs, options.streamLimits);
    warnOnFirstRefusal(this.stats.bounds, (message) => log.warn({ event: 'refused' }, message));
    if (store) this.stats.bounds.onForget((topic) => store.forget(topic));
  }

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
        wire: options.wire,
        quality: options.quality,
        onPeerCutOff: (endpoint) => receiver?.onPeerCutOff(endpoint),
        streamLimits: options.streamLimits,
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
      if (!stream) {
        // A repeat (docs/protocol.md): already accepted once, so it is acknowledged and not saved again.
        // Or a new stream past --max-streams: refused, and a REQ sender is told so.
        const refused = !this.stats.bounds.has(received.frame.topic);
        await received.reply(!refused, refused ? 'too-many-streams' : undefined);
        continue;
      }
      const save = this.store !== undefined && (stream.frames - 1) % every === 0;
      if (save && this.options.pattern === 'rep') {
        // An acknowledged frame is a saved frame: the reply waits for the disk, and the sender waits for the reply.
        const saved = await this.saveOne(this.store, received);
        await received.reply(saved, saved ? undefined : 'save-failed');
      } else if (save && this.mailbox.put(received.frame.topic, received)) {
        stream.skipped++;
      }
      // Answered here, not when the next message is asked for: after the last frame there is no next.
      await received.reply(true);
      if (limit !== undefined && ++total >= limit) break;
    }
  }

  private async saveLoop(store: FrameStore): Promise<void> {
    for (let item = await this.mailbox.take(); item; item = await this.mailbox.take()) await this.saveOne(store, item);
  }

  /** True once the frame is on disk (fsynced, renamed, indexed), or was already. */
  private async saveOne(store: FrameStore, item: FrameReceived): Promise<boolean> {
    try {
      const stream = (await store.save(item.frame, item.receiveUs)) ? this.stats.find(item.frame.topic) : undefined;
      // A stream forgotten while its frame was being saved is not brought back by the count.
      if (stream) stream.saved++;
      if (this.saveFailing) this.log.info(`saving to ${store.dir} works again`);
      this.saveFailing = false;
      return true;
    } catch (error) {
      this.stats.saveErrors++;
      // Once per outage, not once per frame; the count is in the stats.
      if (!this.saveFailing) this.log.error(describeError(error));
      this.saveFailing = true;
      return false;
    }
  }

  private onPeerCutOff(endpoint: string): void {
    this.stats.peerCutOffs++;
    this.log.warn({ event: 'peer-cut-off', endpoint }, `libzmq cut off ${endpoint} (a message past the transport cap); reconnected to it`);
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
    this.stats.bounds.close();
    await this.store?.close();
  }
}
