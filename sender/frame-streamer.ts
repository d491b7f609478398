import { availableParallelism } from 'node:os';
import { nowMicros } from '../common/clock';
import { DEFAULTS } from '../common/defaults';
import { UsageError } from '../common/errors';
import type { Logger } from '../common/log';
import { allowHeapGrowthForFrameBuffers } from './heap-growth';
import { JpegStructureError } from '../common/wire/jpeg-structure';
import { createFrameEncoder } from './encode/choose-encoder';
import { OrderedEncodePipeline } from './encode/encode-pipeline';
import type { EncodedFrame, FrameEncoder, JpegSettings } from './encode/frame-encoder';
import { StripChooser } from './encode/strip-plan';
import { Pacer } from './pacer';
import { openFrameOutput, type FrameOutput } from './send/frame-output';
import { FramePublisher } from './send/frame-publisher';
import { FrameRequester, type RequestOutcome } from './send/frame-requester';
import { LinkAdapter } from './send/link-adapter';
import type { SenderOptions } from './sender-options';
import { SenderStats } from './sender-stats';
import type { CapturedJpeg, FrameSource, JpegFrameSource, RawFrame } from './sources/frame-source';
import { estimateJpegQuality } from './sources/jpeg-quality';
import { openJpegSource, openSource } from './sources/source-spec';

/** --adapt decides on two link reports per receiver: recent enough to follow the link, enough to be a rate. */
const ADAPT_WINDOW_MS = 2 * DEFAULTS.linkReportIntervalMs;

type Source = { kind: 'pixels'; source: FrameSource; encoder: FrameEncoder } | { kind: 'jpeg'; source: JpegFrameSource };

interface EncodedImage {
  jpeg: Buffer;
  width: number;
  height: number;
}

/**
 * A running camera-side stream: owns the frame source and the socket, and runs
 * capture -> RGB -> JPEG -> send (or, with passthrough, capture -> send) until stopped.
 * While no one watches it captures and encodes nothing: the camera stays open, a file pauses.
 */
export class FrameStreamer {
  readonly stats: SenderStats;
  private closed = false;
  private readonly adapter: LinkAdapter | undefined;

  private constructor(
    private readonly options: SenderOptions,
    private readonly input: Source,
    private readonly socket: FrameOutput,
    /** The encoder's settings: --adapt changes quality and scale here as the link demands. */
    private readonly jpeg: JpegSettings,
  ) {
    this.stats = new SenderStats(options.topic, socket.endpoint, DEFAULTS.rateWindowMs);
    const links = socket instanceof FramePublisher ? socket.links : undefined;
    if (links) this.stats.linkSource = (nowMs) => links.summary(nowMs);
    if (options.adapt && links && input.kind === 'pixels') {
      const adapter = new LinkAdapter(this.jpeg, { maxQuality: options.jpeg.quality, minQuality: options.adapt.minQuality }, ADAPT_WINDOW_MS);
      this.adapter = adapter;
      this.stats.adaptSource = () => ({ quality: adapter.quality, scale: Math.round(adapter.scale * 1000) / 1000 });
    }
  }

  /** Opens the source first (the usual failure), then binds or connects. */
  static async open(options: SenderOptions, log: Logger): Promise<FrameStreamer> {
    // Every frame leaves a fresh JPEG Buffer behind; without this, each 40-60 of them cost a full mark-compact.
    allowHeapGrowthForFrameBuffers();
    const settings = { width: options.width, height: options.height, fps: options.fps ?? DEFAULTS.fps, loop: options.loop };
    // The encoder reads these afresh for every frame: --adapt changes quality and scale here.
    const jpeg: JpegSettings = { ...options.jpeg };
    let input: Source;
    if (options.passthrough) {
      input = { kind: 'jpeg', source: openJpegSource(options.source, settings) };
    } else {
      const encoder = createFrameEncoder(options.encoder, jpeg);
      input = { kind: 'pixels', source: openSource(options.source, { ...settings, order: encoder.order }), encoder };
    }
    // Denials are counted in the stats, which exist once the socket is attached.
    let sender: FrameStreamer | undefined;
    const onDenied = (): void => {
      if (sender) sender.stats.denied++;
    };
    const security = options.curve ? { curve: options.curve, log, onDenied } : undefined;
    try {
      if (options.adapt && (options.pattern !== 'pub' || options.passthrough)) {
        throw new UsageError('--adapt needs --pattern pub and encoding (not --passthrough): it fits the encode to what receivers report');
      }
      const socket = await openFrameOutput(options, log, security);
      sender = new FrameStreamer(options, input, socket, jpeg);
      return sender;
    } catch (error) {
      input.source.close();
      throw error;
    }
  }

  get endpoint(): string {
    return this.socket.endpoint;
  }

  get sourceDescription(): string {
    return this.input.source.description;
  }

  /** The rate frames are released at: --fps, else the file's own rate, else (camera) the device's. */
  get paceFps(): number {
    if (this.options.fps !== undefined) return this.options.fps;
    if (this.input.source.nativeFps !== undefined) return this.input.source.nativeFps;
    return this.options.source.kind === 'camera' ? 0 : DEFAULTS.fps;
  }

  /** Streams until `signal` aborts, the source ends, or --frames / --duration is reached. */
  async run(signal: AbortSignal): Promise<void> {
    const { frames, durationS } = this.options;
    const stop = durationS === undefined ? signal : AbortSignal.any([signal, AbortSignal.timeout(durationS * 1000)]);
    const pipeline = this.input.kind === 'pixels' ? this.encodePipeline(this.input.encoder) : undefined;
    const pacer = new Pacer(this.paceFps);
    const requester = this.socket instanceof FrameRequester ? this.socket : undefined;
    // With req, --frames counts acknowledged frames: skipped ones never left, so they do not count.
    const more = (seq: number): boolean => frames === undefined || (requester ? this.stats.frames < frames : seq < frames);
    const adapting = this.adapter && this.socket instanceof FramePublisher ? setInterval(() => this.adapt(), DEFAULTS.linkReportIntervalMs) : undefined;
    try {
      await this.stream(stop, pipeline, pacer, more);
    } finally {
      clearInterval(adapting);
    }
    await pipeline?.flush();
    if (requester && !signal.aborted) {
      const closeOnAbort = (): void => requester.close();
      signal.addEventListener('abort', closeOnAbort, { once: true });
      await requester.idle();
      signal.removeEventListener('abort', closeOnAbort);
    }
  }

  private async stream(stop: AbortSignal, pipeline: OrderedEncodePipeline | undefined, pacer: Pacer, more: (seq: number) => boolean): Promise<void> {
    for (let seq = 0; more(seq); seq++) {
      if (!this.watched) await pipeline?.flush();
      if (!(await this.whenWatched(stop)) || !(await pacer.wait(stop))) break;
      if (this.input.kind === 'pixels') {
        const frame = await this.input.source.read();
        if (!frame || stop.aborted) break;
        await pipeline!.submit(seq, frame);
      } else {
        const frame = await this.readJpeg(this.input.source);
        if (!frame || stop.aborted) break;
        await this.sendPassthrough(seq, frame);
      }
    }
  }

  /** One --adapt decision on what the receivers reported over the last ADAPT_WINDOW_MS. */
  private adapt(): void {
    if (!this.adapter || !(this.socket instanceof FramePublisher) || !this.socket.links) return;
    const now = performance.now();
    if (this.adapter.decide(this.socket.links.summary(now, ADAPT_WINDOW_MS), now)) {
      this.options.onAdapt?.({ quality: this.adapter.quality, scale: this.adapter.scale });
    }
  }

  /** A REQ sender's receiver asks for every frame by replying, so it always counts as watched. */
  private get watched(): boolean {
    return this.socket instanceof FrameRequester || this.socket.watched;
  }

  /** Waits, doing nothing, while no one watches; false if `stop` aborted meanwhile. Frames in flight are delivered first. */
  private async whenWatched(stop: AbortSignal): Promise<boolean> {
    if (this.socket instanceof FrameRequester || this.socket.watched) return !stop.aborted;
    this.setIdle(true);
    const watched = await this.socket.whenWatched(stop);
    if (watched) this.setIdle(false);
    return watched;
  }

  private setIdle(idle: boolean): void {
    if (this.stats.idle === idle) return;
    this.stats.idle = idle;
    this.options.onIdleChange?.(idle);
  }

  private encodePipeline(encoder: FrameEncoder): OrderedEncodePipeline {
    return new OrderedEncodePipeline(
      encoder,
      (seq, frame, encoded) => this.deliver(seq, frame, encoded),
      this.options.encodeConcurrency ?? DEFAULTS.encodeConcurrency,
      new StripChooser(this.options.strips ?? DEFAULTS.strips, availableParallelism(), this.options.jpeg.optimiseCoding),
    );
  }

  /** The next JPEG frame; a frame with broken headers (a USB glitch) is counted and skipped. */
  private async readJpeg(source: JpegFrameSource): Promise<CapturedJpeg | null> {
    for (;;) {
      try {
        const frame = await source.read();
        if (frame?.insertedHuffmanTables) this.stats.huffmanTablesInserted++;
        return frame;
      } catch (error) {
        if (!(error instanceof JpegStructureError)) throw error;
        this.stats.broken++;
      }
    }
  }

  private async sendPassthrough(seq: number, frame: CapturedJpeg): Promise<void> {
    // The header needs a quality of 1-100; a JPEG without an 8-bit luminance table is unheard of from a camera.
    const quality = estimateJpegQuality(frame.jpeg) || DEFAULTS.quality;
    await this.send(seq, frame.captureUs, { jpeg: frame.jpeg, width: frame.width, height: frame.height }, quality);
  }

  private async deliver(seq: number, frame: RawFrame, encoded: EncodedFrame): Promise<void> {
    this.stats.onEncoded(encoded.encodeUs);
    await this.send(seq, frame.captureUs, encoded, encoded.quality);
  }

  private async send(seq: number, captureUs: number, image: EncodedImage, quality: number): Promise<void> {
    if (this.socket instanceof FrameRequester) {
      this.offer(this.socket, captureUs, image, quality);
      return;
    }
    const queued = await this.socket.sendJpg({ seq, captureUs, width: image.width, height: image.height, codec: 'jpeg', quality }, image.jpeg, nowMicros());
    if (queued) this.stats.onSent(image.jpeg.length, performance.now());
    else this.stats.onSkipped();
  }

  /** Never waits for the reply: capture goes on, and only the newest frame waits for its turn. */
  private offer(requester: FrameRequester, captureUs: number, image: EncodedImage, quality: number): void {
    const { frames } = this.options;
    // A newer frame may still replace the waiting one; only the one awaiting its reply is sure to count.
    if (frames !== undefined && this.stats.frames + (requester.awaitingReply ? 1 : 0) >= frames) return;
    const fields = { captureUs, width: image.width, height: image.height, codec: 'jpeg' as const, quality };
    void requester.offer(fields, image.jpeg).then((outcome: RequestOutcome) => {
      if (outcome === 'acknowledged') this.stats.onSent(image.jpeg.length, performance.now());
      else if (outcome === 'skipped') this.stats.onSkipped();
      else if (outcome === 'timed-out') this.stats.timeouts++;
      else if (outcome === 'refused') this.stats.refused++;
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.input.source.close();
  }
}
