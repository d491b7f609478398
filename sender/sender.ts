import { availableParallelism } from 'node:os';
import { nowMicros } from '../common/clock';
import { DEFAULTS, type SenderPattern } from '../common/defaults';
import { estimateJpegQuality } from '../common/jpeg-quality';
import { JpegSender } from '../common/jpeg-sender';
import { JpegStructureError } from '../common/jpeg-structure';
import type { Attachment } from '../common/socket-options';
import { SenderStats } from '../common/stats/sender-stats';
import { OrderedEncodePipeline } from './encode-pipeline';
import { JpegEncoder, type EncodedFrame, type JpegSettings } from './jpeg-encoder';
import { Pacer } from './pacer';
import type { CapturedJpeg, FrameSource, JpegFrameSource, RawFrame } from './sources/frame-source';
import { openJpegSource, openSource, type SourceSpec } from './sources/source-spec';
import { StripChooser, type StripSetting } from './strip-plan';

export interface SenderOptions {
  source: SourceSpec;
  pattern: SenderPattern;
  attachment: Attachment;
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
  /** Strips per frame (1..64) or 'auto' (sender/strip-plan.ts). */
  strips?: StripSetting;
  /** Send the camera's or file's own JPEG frames as they are: no decode, no encode. */
  passthrough?: boolean;
  /** Called when the sender stops working because no one watches, and when someone does again. */
  onIdleChange?: (idle: boolean) => void;
}

type Source = { kind: 'pixels'; source: FrameSource } | { kind: 'jpeg'; source: JpegFrameSource };

/**
 * A running camera-side stream: owns the frame source and the socket, and runs
 * capture -> RGB -> JPEG -> send (or, with passthrough, capture -> send) until stopped.
 * While no one watches it captures and encodes nothing: the camera stays open, a file pauses.
 */
export class Sender {
  readonly stats: SenderStats;
  private closed = false;

  private constructor(
    private readonly options: SenderOptions,
    private readonly input: Source,
    private readonly socket: JpegSender,
  ) {
    this.stats = new SenderStats(options.topic, socket.endpoint, DEFAULTS.rateWindowMs);
  }

  /** Opens the source first (the usual failure), then binds or connects. */
  static async open(options: SenderOptions): Promise<Sender> {
    const settings = { width: options.width, height: options.height, fps: options.fps ?? DEFAULTS.fps, loop: options.loop };
    const input: Source = options.passthrough
      ? { kind: 'jpeg', source: openJpegSource(options.source, settings) }
      : { kind: 'pixels', source: openSource(options.source, settings) };
    try {
      const socket = await JpegSender.open(
        { pattern: options.pattern, attachment: options.attachment, topic: options.topic, sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark },
        nowMicros(),
      );
      return new Sender(options, input, socket);
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
    const pipeline = this.input.kind === 'pixels' ? this.encodePipeline() : undefined;
    const pacer = new Pacer(this.paceFps);
    for (let seq = 0; frames === undefined || seq < frames; seq++) {
      if (!this.socket.watched) await pipeline?.flush();
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
    await pipeline?.flush();
  }

  /** Waits, doing nothing, while no one watches; false if `stop` aborted meanwhile. Frames in flight are delivered first. */
  private async whenWatched(stop: AbortSignal): Promise<boolean> {
    if (this.socket.watched) return !stop.aborted;
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

  private encodePipeline(): OrderedEncodePipeline {
    const encoder = new JpegEncoder(this.options.jpeg);
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
    await this.send(seq, frame.captureUs, encoded, this.options.jpeg.quality);
  }

  private async send(seq: number, captureUs: number, image: { jpeg: Buffer; width: number; height: number }, quality: number): Promise<void> {
    const queued = await this.socket.sendJpg({ seq, captureUs, width: image.width, height: image.height, codec: 'jpeg', quality }, image.jpeg, nowMicros());
    if (queued) this.stats.onSent(image.jpeg.length, performance.now());
    else this.stats.onSkipped();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.input.source.close();
  }
}
