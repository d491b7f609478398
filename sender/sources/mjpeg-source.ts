import { nowMicros } from '../../common/clock';
import { UsageError } from '../../common/errors';
import { withHuffmanTables } from '../../common/jpeg-huffman';
import { readJpegFrameInfo } from '../../common/jpeg-structure';
import type { CapturedJpeg, JpegFrameSource } from './frame-source';
import { OpenCvCapture, type CameraRequest } from './opencv-capture';

/** The source does not deliver JPEG (an H.264 file, a camera without MJPEG): --passthrough cannot work. */
export class NotJpegSourceError extends UsageError {
  override name = 'NotJpegSourceError';
}

/**
 * --passthrough: a camera's MJPEG or an MJPEG file's frames, sent as they are, with no decode and
 * no encode. The only change ever made is the standard Huffman tables for frames that left them out.
 */
export class MjpegSource implements JpegFrameSource {
  private constructor(private readonly capture: OpenCvCapture) {}

  static openCamera(device: number | string, request: CameraRequest): MjpegSource {
    return new MjpegSource(OpenCvCapture.openCamera(device, request, 'compressed'));
  }

  static openFile(path: string, loop: boolean): MjpegSource {
    return new MjpegSource(OpenCvCapture.openFile(path, loop, 'compressed'));
  }

  get description(): string {
    return this.capture.description;
  }

  get nativeFps(): number | undefined {
    return this.capture.nativeFps;
  }

  async read(): Promise<CapturedJpeg | null> {
    const mat = await this.capture.read();
    const captureUs = nowMicros();
    if (!mat) return null;
    // A 1xN single-channel Mat holding the packet: one copy out of OpenCV's memory.
    const packet = mat.rows === 1 && mat.channels === 1 ? mat.getData() : undefined;
    mat.release();
    if (!packet || packet.length < 4 || packet[0] !== 0xff || packet[1] !== 0xd8) {
      throw new NotJpegSourceError(`${this.description} does not deliver JPEG frames, so --passthrough cannot send them as they are; drop --passthrough to encode them`);
    }
    const jpeg = withHuffmanTables(packet);
    const { width, height } = readJpegFrameInfo(jpeg);
    return { jpeg, width, height, captureUs, insertedHuffmanTables: jpeg !== packet };
  }

  close(): void {
    this.capture.close();
  }
}
