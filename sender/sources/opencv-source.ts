import { nowMicros } from '../../common/clock';
import { DEFAULTS } from '../../common/defaults';
import type { ChannelOrder, FrameSource, RawFrame } from './frame-source';
import { OpenCvCapture, type CameraRequest } from './opencv-capture';

export type { CameraRequest } from './opencv-capture';

/** The frames an unthrottled sender holds at once: one being read and the encodes in flight. Past it, buffers are simply allocated. */
const MAX_SPARE_BUFFERS = DEFAULTS.encodeConcurrency + 1;

/**
 * A camera or a video file read through OpenCV's VideoCapture. Frames arrive as BGR and leave in
 * the order asked for: BGR as they are for the OpenCV encoder, RGB for sharp (cvtColor costs
 * 0.2 ms at 720p, where swapping channels in sharp costs 8 ms). Either way they are copied into a
 * reused buffer: handing the capture's own Mat on instead saves that copy (0.2 ms at 720p) but
 * costs a fresh 2.7 MB allocation per frame, and unthrottled, with frames in flight at once, 8x the
 * page faults and more CPU than the copy (docs/benchmarks.md, "Speed II").
 */
export class OpenCvSource implements FrameSource {
  /** Pixel buffers the consumer gave back with RawFrame.release(), ready for the next frames. */
  private readonly spare: Buffer[] = [];

  private constructor(
    private readonly capture: OpenCvCapture,
    private readonly order: ChannelOrder,
  ) {}

  /** `device` is a camera index or a device path such as /dev/video2. */
  static openCamera(device: number | string, request: CameraRequest, order: ChannelOrder = 'rgb'): OpenCvSource {
    return new OpenCvSource(OpenCvCapture.openCamera(device, request), order);
  }

  static openFile(path: string, loop: boolean, order: ChannelOrder = 'rgb'): OpenCvSource {
    return new OpenCvSource(OpenCvCapture.openFile(path, loop), order);
  }

  get description(): string {
    return this.capture.description;
  }

  get nativeFps(): number | undefined {
    return this.capture.nativeFps;
  }

  async read(): Promise<RawFrame | null> {
    const mat = await this.capture.read();
    const captureUs = nowMicros();
    if (!mat) return null;
    const { cv } = this.capture;
    const { cols: width, rows: height } = mat;
    const pixels = this.takeBuffer(width * height * 3);
    // A Mat over the Buffer's own memory: one copy in, where getData() copies twice through a temporary.
    const target = new cv.Mat(height, width, cv.CV_8UC3, pixels);
    if (this.order === 'bgr') {
      mat.copyTo(target);
    } else {
      const rgb = mat.cvtColor(cv.COLOR_BGR2RGB);
      rgb.copyTo(target);
      rgb.release();
    }
    // Mats hold their pixels until the garbage collector finds them; at 30-300 frames a second
    // that is hundreds of MB, and every major collection is paid for on the main thread.
    mat.release();
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.giveBack(pixels);
    };
    return { pixels, order: this.order, width, height, captureUs, release };
  }

  /** A released buffer of this size if there is one: a fresh one costs page faults over all of it. */
  private takeBuffer(bytes: number): Buffer {
    const index = this.spare.findIndex((b) => b.length === bytes);
    if (index >= 0) return this.spare.splice(index, 1)[0]!;
    // Outside Node's small-buffer pool: each frame's pixels are a buffer of their own.
    return Buffer.allocUnsafeSlow(bytes);
  }

  private giveBack(pixels: Buffer): void {
    if (this.capture.isClosed) return;
    this.spare.push(pixels);
    // Frames in flight bound how many come back; this bounds it anyway (a size change, a larger --encode-concurrency).
    if (this.spare.length > MAX_SPARE_BUFFERS) this.spare.shift();
  }

  close(): void {
    this.spare.length = 0;
    this.capture.close();
  }
}

