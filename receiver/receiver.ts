import { DEFAULTS, type ReceiverPattern, type RecordFormat, type ReplyPattern, type Wire } from '../common/defaults';
import { describeError, type RejectReason } from '../common/errors';
import type { CurveSettings } from '../common/sockets/curve-security';
import { JpegReceiver, type Received } from '../common/sockets/jpeg-receiver';
import { warnOncePerReason, type Logger } from '../common/log';
import type { Attachment } from '../common/sockets/socket-options';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { warnOnFirstRefusal, type StreamLimits } from '../common/stats/stream-bounds';
import { logClockNews } from '../common/stats/clock-news';
import type { IndexEntry } from '../common/wire/recording-index';
import { FrameStore } from './frame-store';
import { SaveQueue } from './record/save-queue';
import { nowMicros } from '../common/clock';
import { ResultsFeed } from '../common/sockets/results-feed';
import { ResultLog } from './result-log';

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
  /** Default jpeg. */
  format?: RecordFormat;
  segmentSeconds?: number;
  maxBytes?: number | undefined;
  maxAgeMs?: number | undefined;
  /** Frames waiting for the disk, all streams together (default DEFAULTS.saveQueueFrames). */
  saveQueue?: number;
  /** One fsync commits every frame written in this window; 0 = each frame on its own (default DEFAULTS.fsyncIntervalMs). */
  fsyncIntervalMs?: number;
  /** Stop after this many frames (all streams together). */
  frames?: number | undefined;
  durationS?: number | undefined;
  maxFrameBytes: number;
  receiveHighWaterMark: number;
  /** CURVE: on when a key (binding) or a server key (connecting) is given. */
  curve?: CurveSettings | undefined;
  /** --stream-ttl, --max-streams: the streams it keeps stats for; the defaults without it. */
  streamLimits?: StreamLimits | undefined;
  /** A hub's --results endpoint: each result appended to OUT/results.jsonl (needs `out`). */
  results?: string | undefined;
}

type FrameReceived = Extract<Received, { kind: 'frame' }>;

interface SaveItem {
  received: FrameReceived;
  /** A REP sender waits for this frame: it is committed at once, and told whether it was saved. */
  done?: (saved: boolean) => void;
}

/**
 * The headless receiver: owns its socket and (with --out) its frame store. Receiving never waits
 * on the disk: frames go through a bounded save queue (the newest wins when it is full) to a
 * separate save loop, which writes them and commits them in groups (one fsync per window).
 */
export class Receiver {
  readonly stats: ReceiverStats;
  private readonly queue: SaveQueue<SaveItem>;
  /** Written, waiting for the commit that makes them saved. */
  private uncommitted: SaveItem[] = [];
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
    this.queue = new SaveQueue(options.saveQueue ?? DEFAULTS.saveQueueFrames);
    this.stats = new ReceiverStats(DEFAULTS.rateWindowMs, options.streamLimits);
    warnOnFirstRefusal(this.stats.bounds, log);
    this.stats.onClockNews((topic, news) => logClockNews(log, topic, news));
    if (store) this.stats.bounds.onForget((topic) => store.forget(topic));
  }

  /** Opens the output directory first, so a bad --out fails before any socket exists. */
  static async open(options: ReceiverOptions, log: Logger): Promise<Receiver> {
    const store =
      options.out === undefined
        ? undefined
        : await FrameStore.open({
            dir: options.out,
            format: options.format,
            segmentSeconds: options.segmentSeconds,
            maxFiles: options.maxFiles,
            maxBytes: options.maxBytes,
            maxAgeMs: options.maxAgeMs,
            fsync: options.fsync,
          });
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
        streamLimits: options.streamLimits,
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
      this.queue.close();
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
      const stream = this.stats.onFrame(received.frame, received.receiveUs, received.clock);
      if (!stream) {
        // A repeat (docs/protocol.md): already accepted once, so it is acknowledged and not saved again.
        // Or a new stream past --max-streams: refused, and a REQ sender is told so.
        const refused = !this.stats.bounds.has(received.frame.topic);
        await received.reply(!refused, refused ? 'too-many-streams' : undefined);
        continue;
      }
      const save = this.store !== undefined && (stream.frames - 1) % every === 0;
      if (save && this.options.pattern === 'rep') {
        // An acknowledged frame is a saved frame: the reply waits for its commit, and the sender waits for the reply.
        const saved = await new Promise<boolean>((done) => this.enqueue({ received, done }));
        await received.reply(saved, saved ? undefined : 'save-failed');
      } else if (save) {
        this.results?.log.expect(received.frame.topic, received.frame.header.session, received.frame.header.seq);
        this.enqueue({ received });
      }
      // Answered here, not when the next message is asked for: after the last frame there is no next.
      await received.reply(true);
      if (limit !== undefined && ++total >= limit) break;
    }
  }

  private enqueue(item: SaveItem): void {
    const displaced = this.queue.put(item);
    if (!displaced) return;
    // A stream forgotten meanwhile (--stream-ttl) is not brought back by the count.
    const { topic, header } = displaced.received.frame;
    const stream = this.stats.find(topic);
    if (stream) stream.skipped++;
    this.results?.log.notSaved(topic, header.session, header.seq);
    displaced.done?.(false);
  }

  /**
   * Writes queued frames as they come and commits them together: when the window that began with the
   * first uncommitted write is over, at once for a frame a REP sender waits on, and before stopping.
   */
  private async saveLoop(store: FrameStore): Promise<void> {
    const windowMs = this.options.fsyncIntervalMs ?? DEFAULTS.fsyncIntervalMs;
    let deadline: number | undefined;
    for (;;) {
      const item = await this.queue.take(deadline === undefined ? undefined : deadline - performance.now());
      if (item === undefined) break;
      if (item !== 'timeout') {
        await this.writeOne(store, item);
        if (this.uncommitted.length > 0) deadline ??= performance.now() + windowMs;
        if (item.done) deadline = 0;
      }
      if (deadline !== undefined && performance.now() >= deadline) {
        await this.commit(store);
        deadline = undefined;
      }
    }
    await this.commit(store);
  }

  private async writeOne(store: FrameStore, item: SaveItem): Promise<void> {
    try {
      // A frame already on disk counts as saved once this commit is through, like the rest.
      await store.write(item.received.frame, item.received.receiveUs, item.received.clock);
      this.uncommitted.push(item);
    } catch (error) {
      this.onSaveError(error);
      this.notSaved([item]);
      item.done?.(false);
    }
  }

  /** Resolves each written frame's report once one commit (one fsync per file written) covers it. */
  private async commit(store: FrameStore): Promise<void> {
    const batch = this.uncommitted;
    this.uncommitted = [];
    let saved: readonly IndexEntry[];
    try {
      saved = await store.commit();
    } catch (error) {
      this.onSaveError(error, batch.length);
      this.notSaved(batch);
      for (const item of batch) item.done?.(false);
      return;
    }
    for (const entry of saved) {
      const stream = this.stats.find(entry.topic);
      if (stream) stream.saved++;
    }
    if (this.results) this.joinResults(batch, saved, this.results.log);
    this.stats.fsyncs = store.fsyncs;
    if (this.saveFailing && batch.length) this.log.info(`saving to ${store.dir} works again`);
    if (batch.length) this.saveFailing = false;
    for (const item of batch) item.done?.(true);
  }

  /** --results: each committed frame's results name its file; a repeat (saved before) or a lost frame's, none. */
  private joinResults(batch: readonly SaveItem[], saved: readonly IndexEntry[], log: ResultLog): void {
    const files = new Map(saved.map((entry) => [`${entry.topic}/${entry.session}/${entry.seq}`, entry.file]));
    for (const { received } of batch) {
      const { topic, header } = received.frame;
      const file = files.get(`${topic}/${header.session}/${header.seq}`);
      if (file === undefined) log.notSaved(topic, header.session, header.seq);
      else log.onSaved(topic, header.session, header.seq, file);
    }
  }

  private notSaved(items: readonly SaveItem[]): void {
    for (const { received } of items) this.results?.log.notSaved(received.frame.topic, received.frame.header.session, received.frame.header.seq);
  }

  private onSaveError(error: unknown, frames = 1): void {
    this.stats.saveErrors += frames;
    // Once per outage, not once per frame; the count is in the stats.
    if (!this.saveFailing) this.log.error(describeError(error));
    this.saveFailing = true;
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
    this.queue.close();
    this.stats.bounds.close();
    this.results?.feed.close();
    await this.results?.log.close();
    await this.store?.close();
  }
}
