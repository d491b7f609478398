import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { Mat, VideoCapture } from '@u4/opencv4nodejs';
import { describeError, SourceOpenError } from '../../common/errors';
import { loadOpenCv, type OpenCv } from '../../common/opencv-loader';

export interface CameraRequest {
  width: number;
  height: number;
  fps: number;
}

/** What a capture hands out: decoded BGR pixels, or the device's or file's own compressed packets. */
export type CaptureFormat = 'bgr' | 'compressed';

/**
 * One OpenCV VideoCapture on a camera or a video file: opening with readable errors, reading on
 * libuv's pool, rewinding a looping file, and an idempotent close that waits for a read in flight.
 * OpenCvSource (pixels) and MjpegSource (JPEG as it is) are built on it.
 */
export class OpenCvCapture {
  private closed = false;
  /** A read still running on libuv's pool; the capture must outlive it. */
  private reading: Promise<unknown> | undefined;

  private constructor(
    readonly cv: OpenCv,
    private readonly capture: VideoCapture,
    readonly description: string,
    /** The file's own frame rate; undefined for a camera, which paces itself. */
    readonly nativeFps: number | undefined,
    private readonly loop: boolean,
  ) {}

  /** `device` is a camera index or a device path such as /dev/video2. */
  static openCamera(device: number | string, request: CameraRequest, format: CaptureFormat = 'bgr'): OpenCvCapture {
    const label = `camera ${device}`;
    if (typeof device === 'number' && process.platform === 'linux' && !existsSync(`/dev/video${device}`)) {
      throw new SourceOpenError(`cannot open ${label}: /dev/video${device} does not exist (no camera attached?); try --source testsrc`);
    }
    if (typeof device === 'string' && !existsSync(device)) {
      throw new SourceOpenError(`cannot open ${label}: no such device`);
    }
    const cv = loadOpenCv();
    const capture = openCapture(cv, device, label);
    if (format === 'compressed') {
      // V4L2 backend: ask for MJPEG, then hand out the driver's buffer undecoded.
      capture.set(cv.CAP_PROP_FOURCC, cv.VideoWriter.fourcc('MJPG'));
      capture.set(cv.CAP_PROP_CONVERT_RGB, 0);
    }
    capture.set(cv.CAP_PROP_FRAME_WIDTH, request.width);
    capture.set(cv.CAP_PROP_FRAME_HEIGHT, request.height);
    if (request.fps > 0) capture.set(cv.CAP_PROP_FPS, request.fps);
    // One buffered frame: a camera that queues several hands out stale pictures.
    capture.set(cv.CAP_PROP_BUFFERSIZE, 1);
    return new OpenCvCapture(cv, capture, label, undefined, false);
  }

  static openFile(path: string, loop: boolean, format: CaptureFormat = 'bgr'): OpenCvCapture {
    const label = `file ${basename(path)}`;
    if (!existsSync(path)) throw new SourceOpenError(`cannot open ${label}: no such file (${path})`);
    const cv = loadOpenCv();
    const capture = openCapture(cv, path, label);
    // FFmpeg backend: -1 hands out each packet as a 1xN byte Mat, without decoding it.
    if (format === 'compressed') capture.set(cv.CAP_PROP_FORMAT, -1);
    const fps = capture.get(cv.CAP_PROP_FPS);
    return new OpenCvCapture(cv, capture, label, fps > 0 && fps < 1000 ? fps : 30, loop);
  }

  /**
   * Reads a file's first frame synchronously, hands it to `inspect`, and rewinds, so a source can
   * be checked when it opens rather than when the first receiver arrives. Null for a camera (a
   * frame read would be lost) or an empty file.
   */
  inspectFirstFrame<T>(inspect: (mat: Mat) => T): T | null {
    if (this.nativeFps === undefined) return null;
    const mat = this.capture.read();
    try {
      if (isEmpty(mat)) return null;
      return inspect(mat);
    } finally {
      mat.release();
      this.capture.set(this.cv.CAP_PROP_POS_FRAMES, 0);
    }
  }

  /** The capture's FOURCC as four characters, e.g. "MJPG" (what a camera agreed to deliver). */
  get fourcc(): string {
    const code = Math.round(this.capture.get(this.cv.CAP_PROP_FOURCC));
    return String.fromCharCode(code & 0xff, (code >> 8) & 0xff, (code >> 16) & 0xff, (code >> 24) & 0xff);
  }

  /** The next frame, rewinding a looping file at its end; null at the end or once closed. The caller releases the Mat. */
  async read(): Promise<Mat | null> {
    if (this.closed) return null;
    let mat = await this.readMat();
    if (isEmpty(mat) && this.loop && !this.closed) {
      mat.release();
      this.capture.set(this.cv.CAP_PROP_POS_FRAMES, 0);
      mat = await this.readMat();
    }
    if (isEmpty(mat) || this.closed) {
      mat.release();
      return null;
    }
    return mat;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
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
