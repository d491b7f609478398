import { DEFAULTS, type ReceiverPattern, type ReplyPattern, type Wire } from '../common/defaults';
import { describeError, type RejectReason } from '../common/errors';
import type { CurveSettings } from '../common/sockets/curve-security';
import { JpegReceiver, type Received } from '../common/sockets/jpeg-receiver';
import { warnOncePerReason, type Logger } from '../common/log';
import type { Attachment } from '../common/sockets/socket-options';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { nowMicros } from '../common/clock';
import { ResultsFeed } from '../common/sockets/results-feed';
import { FrameStore } from './frame-store';
import { ResultLog } from './result-log';
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
  /** A hub's --results endpoint: each result appended to OUT/results.jsonl (needs `out`). */
  results?: string | undefined;
}

type FrameReceived = Extract<Received, { kind: 'frame' }>;

/**
 * The headless receiver: owns its socket and (with --out) its frame store. Receiving never waits
 * on the disk: frames go through a newest-frame-wins mailbox to a separate save loop.
 */
export class Receiver {
  readonly stats = new ReceiverStats(DEFAULTS.rateWindowMs);
  private readonly mailbox = new LatestFrameMailbox<FrameReceived>();
  private readonly warnFirst: (reason: string, message: string) => void;
  private closed = false;
  private saveFailing = false;

  private constructor(
    private readonly options: ReceiverOptions,
    private readonly socket: JpegReceiver,
    private readonly store: FrameStore | undefined,
    private readonly log: Logger,
    private readonly results: { feed: ResultsFeed; log: ResultLog } | undefined,
  ) {
    this.warnFirst = warnOncePerReason(log);
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
    let results: { feed: ResultsFeed; log: ResultLog } | undefined;
    try {
      if (options.results !== undefined && options.out !== undefined) {
        const resultLog = await ResultLog.open(options.out, log);
        const serverKey = options.curve?.serverKey;
        const feed = await ResultsFeed.open(options.results, options.topics, options.maxFrameBytes, serverKey ? { curve: { key: options.curve?.key, serverKey }, log } : undefined).catch(async (error: unknown) => {
          await resultLog.close();
          throw error;
        });
        results = { feed, log: resultLog };
      }
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
      });
      receiver = new Receiver(options, socket, store, log, results);
      return receiver;
    } catch (error) {
      results?.feed.close();
      await results?.log.close();
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
    const results = this.results;
    const logging = results?.feed.run((result) => {
      if (this.options.topics.length === 0 || this.options.topics.includes(result.topic)) results.log.append(result, nowMicros());
    });
    try {
      if (!signal.aborted) await this.receiveLoop();
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stop);
      this.socket.close();
      this.mailbox.close();
      this.results?.feed.close();
      await Promise.all([saving, logging]);
    }
  }

  /** --results: results appended to results.jsonl, and those dropped because the disk lagged. */
  get resultCounts(): { results: number; resultsDropped: number } | undefined {
    return this.results && { results: this.results.log.written, resultsDropped: this.results.log.dropped };
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
        await received.reply(true);
        continue;
      }
      const save = this.store !== undefined && (stream.frames - 1) % every === 0;
      if (save && this.options.pattern === 'rep') {
        // An acknowledged frame is a saved frame: the reply waits for the disk, and the sender waits for the reply.
        const saved = await this.saveOne(this.store, received);
        await received.reply(saved, saved ? undefined : 'save-failed');
      } else if (save) {
        const { topic, header } = received.frame;
        this.results?.log.expect(topic, header.session, header.seq);
        const displaced = this.mailbox.put(topic, received);
        if (displaced) {
          stream.skipped++;
          this.results?.log.notSaved(topic, displaced.frame.header.session, displaced.frame.header.seq);
        }
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
      const entry = await store.save(item.frame, item.receiveUs);
      const { topic, header } = item.frame;
      if (entry) {
        this.stats.stream(topic).saved++;
        this.results?.log.onSaved(topic, header.session, header.seq, entry.file);
      } else {
        this.results?.log.notSaved(topic, header.session, header.seq);
      }
      if (this.saveFailing) this.log.info(`saving to ${store.dir} works again`);
      this.saveFailing = false;
      return true;
    } catch (error) {
      this.results?.log.notSaved(item.frame.topic, item.frame.header.session, item.frame.header.seq);
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
    this.warnFirst(reason, `dropped a malformed message (${reason}): ${message}`);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.mailbox.close();
    this.results?.feed.close();
    await this.results?.log.close();
    await this.store?.close();
  }
}
