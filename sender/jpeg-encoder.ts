import sharp from 'sharp';
import type { RawFrame } from './sources/frame-source';

export interface JpegSettings {
  quality: number;
  /** Huffman optimisation: about 10% smaller camera JPEGs for 2-3x the encode time (docs/benchmarks.md). */
  optimiseCoding: boolean;
  /** Scale to fit inside this box, keeping the aspect ratio. */
  resize?: { width: number; height: number } | undefined;
}

export interface EncodedFrame {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Wall time from submitting the frame to getting the JPEG back, µs. */
  encodeUs: number;
}

// Raw frames are never read twice, so sharp's operation cache would only hold memory.
sharp.cache(false);

/** Encodes packed RGB frames to baseline JPEG on libuv's thread pool. */
export class JpegEncoder {
  constructor(private readonly settings: JpegSettings) {}

  async encode(frame: RawFrame): Promise<EncodedFrame> {
    const started = performance.now();
    let image = sharp(frame.pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } });
    const { resize } = this.settings;
    if (resize) image = image.resize(resize.width, resize.height, { fit: 'inside' });
    const { data, info } = await image
      .jpeg({ quality: this.settings.quality, optimiseCoding: this.settings.optimiseCoding, chromaSubsampling: '4:2:0' })
      .toBuffer({ resolveWithObject: true });
    return { jpeg: data, width: info.width, height: info.height, encodeUs: Math.round((performance.now() - started) * 1000) };
  }
}
