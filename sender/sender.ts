import { nowMicros } from '../common/clock';
import { DEFAULTS, type SenderPattern } from '../common/defaults';
import type { CurveSettings } from '../common/curve-security';
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
  /** CURVE: on when a key (binding) or a server key (connecting) is given. */
  curve?: CurveSettings | undefined;
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
    private readonly socket: JpegSender,
  ) {
    this.stats = new SenderStats(options.topic, socket.endpoint, DEFAULTS.rateWindowMs);
  }

  /** Opens the source first (the usual failure), then binds or connects. */
  static async open(options: SenderOptions, log: Logger): Promise<Sender> {
    const source = openSource(options.source, {
      width: options.width,
      height: options.height,
      fps: options.fps ?? DEFAULTS.fps,
      loop: options.loop,
    });
    // Denials are counted in the stats, which exist once the socket is attached.
    let sender: Sender | undefined;
    const onDenied = (): void => {
      if (sender) sender.stats.denied++;
    };
    const security = options.curve ? { curve: options.curve, log, onDenied } : undefined;
    try {
      const socket = await JpegSender.open(
        { pattern: options.pattern, attachment: options.attachment, topic: options.topic, sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark, security },
        nowMicros(),
      );
      sender = new Sender(options, source, socket);
      return sender;
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
    for (let seq = 0; frames === undefined || seq < frames; seq++) {
      if (!(await pacer.wait(signal)) || performance.now() >= deadline) break;
      const frame = await this.source.read();
      if (!frame || signal.aborted) break;
      await pipeline.submit(seq, frame);
    }
    await pipeline.flush();
  }

  private async deliver(seq: number, frame: RawFrame, encoded: EncodedFrame): Promise<void> {
    this.stats.onEncoded(encoded.encodeUs);
    const queued = await this.socket.sendJpg(
      { seq, captureUs: frame.captureUs, width: encoded.width, height: encoded.height, codec: 'jpeg', quality: this.options.jpeg.quality },
      encoded.jpeg,
      nowMicros(),
    );
    if (queued) this.stats.onSent(encoded.jpeg.length, performance.now());
    else this.stats.onSkipped();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.close();
    this.source.close();
  }
}
