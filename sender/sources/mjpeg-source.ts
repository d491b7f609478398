import type { Mat } from '@u4/opencv4nodejs';
import { nowMicros } from '../../common/clock';
import { UsageError } from '../../common/errors';
import { withHuffmanTables } from './jpeg-huffman';
import { readJpegFrameInfo } from '../../common/wire/jpeg-structure';
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
/** A 1xN single-channel Mat holds one packet: one copy out of OpenCV's memory. */
function packetOf(mat: Mat): Buffer | undefined {
  return mat.rows === 1 && mat.channels === 1 ? mat.getData() : undefined;
}

function isJpeg(packet: Buffer | undefined): packet is Buffer {
  return packet !== undefined && packet.length >= 4 && packet[0] === 0xff && packet[1] === 0xd8;
}

function notJpeg(description: string): NotJpegSourceError {
  return new NotJpegSourceError(`${description} does not deliver JPEG frames, so --passthrough cannot send them as they are; drop --passthrough to encode them`);
}

export class MjpegSource implements JpegFrameSource {
  private constructor(private readonly capture: OpenCvCapture) {}

  static openCamera(device: number | string, request: CameraRequest): MjpegSource {
    const capture = OpenCvCapture.openCamera(device, request, 'compressed');
    // The driver answers a FOURCC request with what it will actually deliver.
    if (capture.fourcc.toUpperCase() !== 'MJPG') {
      capture.close();
      throw new NotJpegSourceError(`${capture.description} does not offer MJPEG (it delivers ${JSON.stringify(capture.fourcc)}), so --passthrough cannot work; drop --passthrough to encode its frames`);
    }
    return new MjpegSource(capture);
  }

  static openFile(path: string, loop: boolean): MjpegSource {
    const capture = OpenCvCapture.openFile(path, loop, 'compressed');
    if (capture.inspectFirstFrame((mat) => isJpeg(packetOf(mat))) === false) {
      capture.close();
      throw notJpeg(capture.description);
    }
    return new MjpegSource(capture);
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
    const packet = packetOf(mat);
    mat.release();
    if (!isJpeg(packet)) throw notJpeg(this.description);
    const jpeg = withHuffmanTables(packet);
    const { width, height } = readJpegFrameInfo(jpeg);
    return { jpeg, width, height, captureUs, insertedHuffmanTables: jpeg !== packet };
  }

  close(): void {
    this.capture.close();
  }
}
