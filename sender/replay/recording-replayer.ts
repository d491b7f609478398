import { setTimeout as sleep } from 'node:timers/promises';
import * as zmq from 'zeromq';
import { nowMicros } from '../../common/clock';
import { DEFAULTS, type RequestPattern, type SenderPattern } from '../../common/defaults';
import { UsageError } from '../../common/errors';
import { allowHeapGrowthForFrameBuffers } from '../heap-growth';
import type { Logger } from '../../common/log';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from '../../common/sockets/curve-security';
import { COMMON_SOCKET_OPTIONS, isWouldBlock, type Attachment } from '../../common/sockets/socket-options';
import { frameTimeUs, type IndexEntry } from '../../common/wire/recording-index';
import { isLinkReport } from '../../common/wire/link-report';
import { encodeFrame, encodeTopic } from '../../common/wire/protocol';
import { estimateJpegQuality } from '../sources/jpeg-quality';
import { RecordingSource, type RecordingSelection } from '../sources/recording-source';

export interface ReplayOptions {
  dir: string;
  selection: RecordingSelection;
  /** 1 = the original pace, 2 = twice as fast; 'max' = as fast as the socket (with push and req: the consumer) takes frames. */
  speed: number | 'max';
  loop: boolean;
  pattern: SenderPattern | RequestPattern;
  attachment: Attachment;
  replyTimeoutMs?: number;
  sendHighWaterMark?: number;
  /** Stop after this many frames sent (acknowledged, with req). */
  frames?: number | undefined;
  durationS?: number | undefined;
  security?: SocketSecurityOptions | undefined;
}

export interface ReplaySummary {
  dir: string;
  endpoint: string;
  /** Frames sent (req: acknowledged). */
  frames: number;
  bytes: number;
  fps: number;
  /** Passes through the recording begun (--loop). */
  passes: number;
  /** pub only: frames libzmq had no room for (a slow subscriber). push and req wait instead. */
  skipped: number;
  /** req: replies that did not come in time; the frame was sent again on a fresh socket. */
  timeouts: number;
  /** req: frames the receiver answered with ERR. */
  refused: number;
  /** The newest frame's original capture time, epoch µs: where in the recording the replay is. */
  positionUs: number;
  idle: boolean;
}

type Socket = zmq.XPublisher | zmq.Push | zmq.Request;

/** A frame sent this much later than its time (a consumer that stalled) restarts the schedule from it. */
const REANCHOR_LATE_MS = 100;

/**
 * zerocam-sender --source recording:DIR. Sends a recording back on the wire: each frame's topic and
 * JPEG bytes exactly as recorded (no decode, no encode), its original capture time in capture_us
 * and the replay flag set (docs/protocol.md), at the recording's own pace (frame times relative to the
 * first) times --speed. Each pass is a new session, seq counting from 0 per topic.
 *
 * Flow control: push waits for a receiver with room and req for each reply (a frame whose reply
 * times out is sent again on a fresh socket, with the same session and seq, which receivers take as
 * a repeat if it did arrive), so with either, --speed max goes as fast as the consumer and loses
 * nothing. pub cannot know its subscribers' pace: it waits for a first subscriber, then skips a
 * frame no queue has room for, as a live sender does.
 */
export class RecordingReplayer {
  private secured: SecuredSocket<Socket>;
  private closed = false;
  private watched: Promise<void>;
  private readonly sent = { frames: 0, bytes: 0, passes: 0, skipped: 0, timeouts: 0, refused: 0, positionUs: 0 };
  private firstSentMs: number | undefined;
  private lastSentMs = 0;
  private inOutage = false;
  private idle = true;

  private constructor(
    private readonly options: ReplayOptions,
    private readonly source: RecordingSource,
    secured: SecuredSocket<Socket>,
    private readonly log: Logger,
  ) {
    this.secured = secured;
    this.watched = secured.socket instanceof zmq.XPublisher ? firstSubscription(secured.socket) : Promise.resolve();
  }

  /** Reads and checks the recording first (the usual failure), then binds or connects. */
  static async open(options: ReplayOptions, log: Logger): Promise<RecordingReplayer> {
    if (options.pattern === 'req' && !('connect' in options.attachment)) throw new UsageError('--pattern req needs --connect: the receiver or hub binds');
    // Each frame read from disk is a fresh Buffer, as an encoded one is (sender/heap-growth.ts).
    allowHeapGrowthForFrameBuffers();
    const source = await RecordingSource.open(options.dir, options.selection);
    try {
      for (const entry of source.frames) encodeTopic(entry.topic);
      return new RecordingReplayer(options, source, await RecordingReplayer.openSocket(options), log);
    } catch (error) {
      await source.close();
      throw error;
    }
  }

  private static openSocket(options: ReplayOptions): Promise<SecuredSocket<Socket>> {
    const timeout = options.replyTimeoutMs ?? DEFAULTS.replyTimeoutMs;
    return openSecuredSocket<Socket>(
      (curve) => {
        const common = { ...COMMON_SOCKET_OPTIONS, ...curve, sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark };
        if (options.pattern === 'req') return new zmq.Request({ ...common, receiveTimeout: timeout, sendTimeout: timeout });
        // push blocks until a receiver has room: the consumer sets the pace and nothing is skipped.
        if (options.pattern === 'push') return new zmq.Push(common);
        return new zmq.XPublisher({ ...common, sendTimeout: 0 });
      },
      options.attachment,
      options.security,
    );
  }

  get endpoint(): string {
    return this.secured.endpoint;
  }

  get frameCount(): number {
    return this.source.frames.length;
  }

  get topics(): string[] {
    return [...new Set(this.source.frames.map((f) => f.topic))];
  }

  /** Replays until the recording ends (forever with --loop), --frames or --duration, or `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { durationS, loop } = this.options;
    const stop = durationS === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(durationS * 1000)]);
    const abortable = new Promise<void>((resolve) => stop.addEventListener('abort', () => resolve(), { once: true }));
    // A push waiting for room, or a req for its reply, wakes at once when stopped: the socket goes.
    const closeOnStop = (): void => this.secured.close();
    stop.addEventListener('abort', closeOnStop, { once: true });
    try {
      await Promise.race([this.watched, abortable]);
      this.idle = false;
      let session = 0;
      do {
        session = Math.max(nowMicros(), session + 1);
        if (!(await this.pass(session, stop))) break;
      } while (loop && !stop.aborted);
    } finally {
      stop.removeEventListener('abort', closeOnStop);
    }
    // A natural end: let what push queued reach its receiver before the socket closes.
    if (!stop.aborted && this.secured.socket instanceof zmq.Push) this.secured.socket.linger = DEFAULTS.replyTimeoutMs;
  }

  /** One pass through the recording; false when it should not go on (stopped, or --frames reached). */
  private async pass(session: number, stop: AbortSignal): Promise<boolean> {
    this.sent.passes++;
    const { speed, frames: limit } = this.options;
    const frames = this.source.frames;
    const firstUs = frameTimeUs(frames[0]!);
    /** When frame time firstUs is (was) sent: set by the first frame sent, and again after a stall. */
    let anchorMs: number | undefined;
    const seqs = new Map<string, number>();
    for (const entry of frames) {
      if (stop.aborted || (limit !== undefined && this.sent.frames >= limit)) return false;
      const offsetMs = speed === 'max' ? 0 : (frameTimeUs(entry) - firstUs) / 1000 / speed;
      if (speed !== 'max' && anchorMs !== undefined) {
        const waitMs = anchorMs + offsetMs - performance.now();
        if (waitMs > 0) {
          try {
            await sleep(waitMs, undefined, { signal: stop });
          } catch {
            return false;
          }
        }
      }
      const jpeg = await this.source.read(entry);
      const seq = seqs.get(entry.topic) ?? 0;
      seqs.set(entry.topic, seq + 1);
      if (!(await this.send(entry, jpeg, session, seq, stop))) return false;
      // The gaps count from the first frame actually sent (a push waits for its first receiver), and
      // from now again after a consumer stalled the replay: it goes on at pace, it never bursts to catch up.
      const now = performance.now();
      if (anchorMs === undefined || now - (anchorMs + offsetMs) > REANCHOR_LATE_MS) anchorMs = now - offsetMs;
    }
    return true;
  }

  /** Sends one frame as the pattern asks; false if stopped first. */
  private async send(entry: IndexEntry, jpeg: Buffer, session: number, seq: number, stop: AbortSignal): Promise<boolean> {
    const header = {
      session,
      seq,
      captureUs: entry.captureUs,
      width: entry.width,
      height: entry.height,
      codec: 'jpeg' as const,
      quality: qualityOf(jpeg),
      replay: true,
    };
    for (;;) {
      if (stop.aborted || this.closed) return false;
      const socket = this.secured.socket;
      const parts = encodeFrame(entry.topic, { ...header, sendUs: nowMicros() }, jpeg);
      try {
        await socket.send(parts);
        if (socket instanceof zmq.Request) {
          const [reply] = await socket.receive();
          if (reply?.toString() !== DEFAULTS.replyAccepted) this.sent.refused++;
          if (this.inOutage) this.log.info({ event: 'reply-recovered' }, 'replies are back');
          this.inOutage = false;
        }
        this.onSent(entry, jpeg.length);
        return true;
      } catch (error) {
        if (this.closed || socket.closed || stop.aborted) return false;
        if (socket instanceof zmq.XPublisher && isWouldBlock(error)) {
          this.sent.skipped++;
          return true;
        }
        if (!(socket instanceof zmq.Request)) throw error;
        await this.reopen();
      }
    }
  }

  /** Lazy Pirate: a REQ socket that missed its reply is stuck; the same frame goes again on a fresh one. */
  private async reopen(): Promise<void> {
    this.sent.timeouts++;
    if (!this.inOutage) this.log.warn({ event: 'reply-timeout' }, 'no reply in time; sending the frame again on a fresh socket (further timeouts are only counted)');
    this.inOutage = true;
    this.secured.close();
    const fresh = await RecordingReplayer.openSocket(this.options);
    if (this.closed) fresh.close();
    else this.secured = fresh;
  }

  private onSent(entry: IndexEntry, bytes: number): void {
    const now = performance.now();
    this.firstSentMs ??= now;
    this.lastSentMs = now;
    this.sent.frames++;
    this.sent.bytes += bytes;
    this.sent.positionUs = entry.captureUs;
  }

  summary(): ReplaySummary {
    const seconds = this.firstSentMs === undefined ? 0 : (this.lastSentMs - this.firstSentMs) / 1000;
    return {
      dir: this.options.dir,
      endpoint: this.endpoint,
      ...this.sent,
      fps: seconds > 0 ? Math.round(((this.sent.frames - 1) / seconds) * 10) / 10 : 0,
      idle: this.idle,
    };
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.secured.close();
    await this.source.close();
  }
}

/**
 * Resolves at the first subscription an XPUB socket reads (link reports are not subscriptions), and
 * goes on reading what receivers send up until the socket closes, so nothing piles up unread.
 */
function firstSubscription(socket: zmq.XPublisher): Promise<void> {
  return new Promise((resolve, reject) => {
    void (async () => {
      try {
        for await (const [message] of socket) {
          if (message && !isLinkReport(message) && message[0] === 1) resolve();
        }
      } catch (error) {
        if (!socket.closed) reject(error instanceof Error ? error : new Error(String(error)));
      }
    })();
  });
}

/** The header's quality for a recorded JPEG, as --passthrough estimates it; 0 (unknown) if it cannot tell. */
function qualityOf(jpeg: Buffer): number {
  try {
    return estimateJpegQuality(jpeg);
  } catch {
    return 0;
  }
}

/** The live stats line of a replay. */
export function replayLine(s: ReplaySummary): string {
  const position = s.positionUs ? new Date(s.positionUs / 1000).toISOString() : 'start';
  if (s.idle) return `replay ${s.dir} → ${s.endpoint} | waiting for a subscriber`;
  const replies = s.timeouts || s.refused ? ` timeouts ${s.timeouts} refused ${s.refused}` : '';
  return `replay ${s.dir} → ${s.endpoint} | ${s.fps.toFixed(1)} fps | at ${position} | sent ${s.frames} skipped ${s.skipped}${replies} | pass ${s.passes}`;
}
