import { nowMicros } from '../common/clock';
import { DEFAULTS, type RequestPattern, type SenderPattern, type Wire } from '../common/defaults';
import { UsageError } from '../common/errors';
import { JpegRequester, type RequestOutcome } from '../common/jpeg-requester';
import { JpegSender } from '../common/jpeg-sender';
import type { Logger } from '../common/log';
import type { Attachment } from '../common/socket-options';
import { SenderStats } from '../common/stats/sender-stats';
import { OrderedEncodePipeline } from './encode-pipeline';
import { JpegEncoder, type EncodedFrame, type JpegSettings } from './jpeg-encoder';
import { Pacer } from './pacer';
import type { FrameSource, RawFrame } from './sources/frame-source';
import { openSource, type SourceSpec } from './sources/source-spec';

export interface SenderOptions {
  source: SourceSpec;
  pattern: SenderPattern | RequestPattern;
  attachment: Attachment;
  /** Default 'zerocam'. */
  wire?: Wire;
  /** req: how long to wait for each reply before reopening the socket. */
  replyTimeoutMs?: number;
  topic: string;
  /** testsrc size, or the size asked of a camera. */
  width: number;
  height: number;
  /** Frames per second; 0 = unthrottled; undefined = the source's own rate (testsrc: DEFAULTS.fps). */
  fps: number | undefined;
  loop: boolean;
  jpeg: JpegSettings;
  /** Stop after this many frames. */
  frames?: number | undefined;
  /** Stop after this many seconds. */
  durationS?: number | undefined;
  sendHighWaterMark?: number;
  encodeConcurrency?: number;
}

/**
 * A running camera-side stream: owns the frame source and the socket, and runs
 * capture -> RGB -> JPEG -> send until stopped.
 */
export class Sender {
  readonly stats: SenderStats;
  private closed = false;

  private constructor(
    private readonly options: SenderOptions,
    private readonly source: FrameSource,
    private readonly socket: JpegSender | JpegRequester,
  ) {
    this.stats = new SenderStats(options.topic, socket.endpoint, DEFAULTS.rateWindowMs);
  }

  /** Opens the source first (the usual failure), then binds or connects. */
  static async open(options: SenderOptions, log?: Logger): Promise<Sender> {
    const source = openSource(options.source, {
      width: options.width,
      height: options.height,
      fps: options.fps ?? DEFAULTS.fps,
      loop: options.loop,
    });
    try {
      const { pattern, attachment, topic } = options;
      const wire = options.wire ?? DEFAULTS.wire;
      let socket: JpegSender | JpegRequester;
      if (pattern === 'req') {
        if (!('connect' in attachment)) throw new UsageError('--pattern req needs --connect: the receiver or hub binds');
        socket = await JpegRequester.open(
          {
            connect: attachment.connect,
            topic,
            wire,
            replyTimeoutMs: options.replyTimeoutMs,
            onTimeout: (first) => {
              if (first) log?.warn({ event: 'reply-timeout', endpoint: attachment.connect[0] }, `no reply from ${attachment.connect.join(', ')} within ${options.replyTimeoutMs ?? DEFAULTS.replyTimeoutMs} ms; reopening the socket and retrying with fresh frames (further timeouts are only counted)`);
            },
            onRecovered: () => log?.info({ event: 'reply-recovered' }, `replies from ${attachment.connect.join(', ')} are back`),
          },
          nowMicros(),
        );
      } else {
        socket = await JpegSender.open({ pattern, attachment, topic, wire, sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark }, nowMicros());
      }
      return new Sender(options, source, socket);
    } catch (error) {
      source.close();
      throw error;
    }
  }

  get endpoint(): string {
    return this.socket.endpoint;
  }

  get sourceDescription(): string {
    return this.source.description;
  }

  /** The rate frames are released at: --fps, else the file's own rate, else (camera) the device's. */
  get paceFps(): number {
    if (this.options.fps !== undefined) return this.options.fps;
    if (this.source.nativeFps !== undefined) return this.source.nativeFps;
    return this.options.source.kind === 'camera' ? 0 : DEFAULTS.fps;
  }

  /** Streams until `signal` aborts, the source ends, or --frames / --duration is reached. */
  async run(signal: AbortSignal): Promise<void> {
    const { frames, durationS } = this.options;
    const deadline = durationS === undefined ? Infinity : performance.now() + durationS * 1000;
    const encoder = new JpegEncoder(this.options.jpeg);
    const pipeline = new OrderedEncodePipeline(
      encoder,
      (seq, frame, encoded) => this.deliver(seq, frame, encoded),
      this.options.encodeConcurrency ?? DEFAULTS.encodeConcurrency,
    );
    const pacer = new Pacer(this.paceFps);
    const requester = this.socket instanceof JpegRequester ? this.socket : undefined;
    // With req, --frames counts acknowledged frames: skipped ones never left, so they do not count.
    const more = (seq: number): boolean => frames === undefined || (requester ? this.stats.frames < frames : seq < frames);
    for (let seq = 0; more(seq); seq++) {
      if (!(await pacer.wait(signal)) || performance.now() >= deadline) break;
      const frame = await this.source.read();
      if (!frame || signal.aborted) break;
      await pipeline.submit(seq, frame);
    }
    await pipeline.flush();
    if (requester && !signal.aborted) {
      const closeOnAbort = (): void => requester.close();
      signal.addEventListener('abort', closeOnAbort, { once: true });
      await requester.idle();
      signal.removeEventListener('abort', closeOnAbort);
    }
  }

  private async deliver(seq: number, frame: RawFrame, encoded: EncodedFrame): Promise<void> {
    this.stats.onEncoded(encoded.encodeUs);
    if (this.socket instanceof JpegRequester) {
      this.offer(this.socket, frame, encoded);
      return;
    }
    const queued = await this.socket.sendJpg(
      { seq, captureUs: frame.captureUs, width: encoded.width, height: encoded.height, codec: 'jpeg', quality: this.options.jpeg.quality },
      encoded.jpeg,
      nowMicros(),
    );
    if (queued) this.stats.onSent(encoded.jpeg.length, performance.now());
    else this.stats.onSkipped();
  }

  /** Never waits for the reply: capture goes on, and only the newest frame waits for its turn. */
  private offer(requester: JpegRequester, frame: RawFrame, encoded: EncodedFrame): void {
    const { frames } = this.options;
    // A newer frame may still replace the waiting one; only the one awaiting its reply is sure to count.
    if (frames !== undefined && this.stats.frames + (requester.awaitingReply ? 1 : 0) >= frames) return;
    const fields = { captureUs: frame.captureUs, width: encoded.width, height: encoded.height, codec: 'jpeg' as const, quality: this.options.jpeg.quality };
    void requester.offer(fields, encoded.jpeg).then((outcome: RequestOutcome) => {
      if (outcome === 'acknowledged') this.stats.onSent(encoded.jpeg.length, performance.now());
      else if (outcome === 'skipped') this.stats.onSkipped();
      else if (outcome === 'timed-out') this.stats.timeouts++;
      else if (outcome === 'refused') this.stats.refused++;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.source.close();
  }
}
