/**
 * The order of a pixel's 3 bytes. sharp takes RGB; OpenCV captures and encodes BGR, so a source
 * feeding the OpenCV encoder keeps BGR and skips a conversion.
 */
export type ChannelOrder = 'rgb' | 'bgr';

/** One captured frame: packed pixels, 3 bytes per pixel in `order`, rows without padding. */
export interface RawFrame {
  pixels: Buffer;
  order: ChannelOrder;
  width: number;
  height: number;
  /** Epoch microseconds, stamped as the frame left the capture device or generator. */
  captureUs: number;
  /**
   * Gives `pixels` back to the source for reuse, once nothing reads them any more: a fresh buffer
   * per frame (2.7 MB at 720p) costs more in page faults and garbage collection than the colour
   * conversion that fills it. Optional on both sides: a frame never released is garbage-collected.
   */
  release?: () => void;
}

/**
 * Where frames come from. Owns its device or file: close() releases it and is idempotent.
 */
export interface FrameSource {
  /** For logs and the default topic, e.g. "testsrc", "camera 0", "file clip.mp4". */
  readonly description: string;
  /**
   * The rate the sender should pace reads at when --fps is not given; undefined when reads
   * block until the device has a frame (a camera paces itself).
   */
  readonly nativeFps: number | undefined;
  /** The next frame, or null at the end of a (non-looping) file. */
  read(): Promise<RawFrame | null>;
  close(): void;
}

/** One frame exactly as a camera or file delivered it compressed: a complete JPEG, never decoded. */
export interface CapturedJpeg {
  jpeg: Buffer;
  /** From the JPEG's SOF. */
  width: number;
  height: number;
  captureUs: number;
  /** The source frame had no Huffman tables, and the standard ones were inserted. */
  insertedHuffmanTables: boolean;
}

/** Where --passthrough frames come from; like FrameSource, but the frames are JPEG already. */
export interface JpegFrameSource {
  readonly description: string;
  readonly nativeFps: number | undefined;
  read(): Promise<CapturedJpeg | null>;
  close(): void;
}
