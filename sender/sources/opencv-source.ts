import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Mat, VideoCapture } from '@u4/opencv4nodejs';
import { nowMicros } from '../../common/clock';
import { DEFAULTS } from '../../common/defaults';
import { describeError, SourceOpenError } from '../../common/errors';
import type { FrameSource, RawFrame } from './frame-source';
import { loadOpenCv, type OpenCv } from './opencv-loader';

/** The frames an unthrottled sender holds at once: one being read and the encodes in flight. Past it, buffers are simply allocated. */
const MAX_SPARE_BUFFERS = DEFAULTS.encodeConcurrency + 1;

export interface CameraRequest {
  width: number;
  height: number;
  fps: number;
}

/**
 * A camera or a video file read through OpenCV's VideoCapture. Frames arrive as BGR and leave as
 * RGB: cvtColor costs 0.2 ms at 720p, where swapping channels in sharp costs 8 ms.
 */
export class OpenCvSource implements FrameSource {
  private closed = false;
  /** A read still running on libuv's pool; the capture must outlive it. */
  private reading: Promise<unknown> | undefined;
  /** Pixel buffers the consumer gave back with RawFrame.release(), ready for the next frames. */
  private readonly spare: Buffer[] = [];

  private constructor(
    private readonly cv: OpenCv,
    private readonly capture: VideoCapture,
    readonly description: string,
    readonly nativeFps: number | undefined,
    private readonly loop: boolean,
  ) {}

  /** `device` is a camera index or a device path such as /dev/video2. */
  static openCamera(device: number | string, request: CameraRequest): OpenCvSource {
    const label = `camera ${device}`;
    if (typeof device === 'number' && process.platform === 'linux' && !existsSync(`/dev/video${device}`)) {
      throw new SourceOpenError(`cannot open ${label}: /dev/video${device} does not exist (no camera attached?); try --source testsrc`);
    }
    if (typeof device === 'string' && !existsSync(device)) {
      throw new SourceOpenError(`cannot open ${label}: no such device`);
    }
    const cv = loadOpenCv();
    const capture = openCapture(cv, device, label);
    capture.set(cv.CAP_PROP_FRAME_WIDTH, request.width);
    capture.set(cv.CAP_PROP_FRAME_HEIGHT, request.height);
    if (request.fps > 0) capture.set(cv.CAP_PROP_FPS, request.fps);
    // One buffered frame: a camera that queues several hands out stale pictures.
    capture.set(cv.CAP_PROP_BUFFERSIZE, 1);
    return new OpenCvSource(cv, capture, label, undefined, false);
  }

  static openFile(path: string, loop: boolean): OpenCvSource {
    const label = `file ${basename(path)}`;
    if (!existsSync(path)) throw new SourceOpenError(`cannot open ${label}: no such file (${path})`);
    const cv = loadOpenCv();
    const capture = openCapture(cv, path, label);
    const fps = capture.get(cv.CAP_PROP_FPS);
    return new OpenCvSource(cv, capture, label, fps > 0 && fps < 1000 ? fps : 30, loop);
  }

  async read(): Promise<RawFrame | null> {
    if (this.closed) return null;
    let mat = await this.readMat();
    if (isEmpty(mat) && this.loop && !this.closed) {
      this.capture.set(this.cv.CAP_PROP_POS_FRAMES, 0);
      mat = await this.readMat();
    }
    const captureUs = nowMicros();
    if (isEmpty(mat) || this.closed) {
      mat.release();
      return null;
    }
    const { cv } = this;
    const { cols: width, rows: height } = mat;
    const rgb = mat.cvtColor(cv.COLOR_BGR2RGB);
    // Mats hold their pixels until the garbage collector finds them; at 30-300 frames a second
    // that is hundreds of MB, and every major collection is paid for on the main thread.
    mat.release();
    const pixels = this.takeBuffer(width * height * 3);
    // A Mat over the Buffer's own memory: one copy in, where getData() copies twice through a temporary.
    rgb.copyTo(new cv.Mat(height, width, cv.CV_8UC3, pixels));
    rgb.release();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.giveBack(pixels);
    };
    return { pixels, width, height, captureUs, release };
  }

  /** A released buffer of this size if there is one: a fresh one costs page faults over all of it. */
  private takeBuffer(bytes: number): Buffer {
    const index = this.spare.findIndex((b) => b.length === bytes);
    if (index >= 0) return this.spare.splice(index, 1)[0]!;
    // Outside Node's small-buffer pool: each frame's pixels are a buffer of their own.
    return Buffer.allocUnsafeSlow(bytes);
  }

  private giveBack(pixels: Buffer): void {
    if (this.closed) return;
    this.spare.push(pixels);
    // Frames in flight bound how many come back; this bounds it anyway (a size change, a larger --encode-concurrency).
    if (this.spare.length > MAX_SPARE_BUFFERS) this.spare.shift();
  }

  close(): void {
    if (this.closed) return;
    this.spare.length = 0;
    this.closed = true;
    const release = (): void => this.capture.release();
    if (this.reading) void this.reading.then(release, release);
    else release();
  }

  private async readMat(): Promise<Mat> {
    const reading = this.capture.readAsync();
    this.reading = reading;
    try {
      return await reading;
    } finally {
      this.reading = undefined;
    }
  }
}

function openCapture(cv: OpenCv, target: number | string, label: string): VideoCapture {
  try {
    return new cv.VideoCapture(target);
  } catch (error) {
    // OpenCV throws a plain string here, e.g. "VideoCapture::New - failed to open capture".
    throw new SourceOpenError(`cannot open ${label}: ${describeError(error)}`);
  }
}

/** At the end of a file OpenCV returns an empty Mat, whose `empty` is the number 1 rather than true. */
function isEmpty(mat: Mat): boolean {
  return Boolean(mat.empty) || mat.rows === 0;
}
