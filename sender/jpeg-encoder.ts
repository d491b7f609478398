import sharp from 'sharp';
import { joinJpegStrips } from '../common/jpeg-restart';
import type { RawFrame } from './sources/frame-source';
import { planStrips } from './strip-plan';

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
  /** Strips the frame was encoded in at once (1: a whole-frame encode). */
  strips: number;
}

interface Pixels {
  pixels: Buffer;
  width: number;
  height: number;
}

// Raw frames are never read twice, so sharp's operation cache would only hold memory.
sharp.cache(false);

/** Encodes packed RGB frames to baseline JPEG on libuv's thread pool, whole or as parallel strips. */
export class JpegEncoder {
  constructor(private readonly settings: JpegSettings) {}

  /**
   * `strips` > 1 encodes horizontal strips on as many pool threads at once and joins them with
   * restart markers (common/jpeg-restart.ts): the frame decodes pixel-identical to a whole-frame
   * encode, about 0.03% larger. Needs optimised coding off; the caller decides (strip-plan.ts).
   */
  async encode(frame: RawFrame, strips = 1): Promise<EncodedFrame> {
    const started = performance.now();
    const { resize } = this.settings;
    if (strips <= 1) {
      let image = sharp(frame.pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } });
      if (resize) image = image.resize(resize.width, resize.height, { fit: 'inside' });
      const { data, info } = await this.jpeg(image).toBuffer({ resolveWithObject: true });
      return { jpeg: data, width: info.width, height: info.height, encodeUs: elapsedUs(started), strips: 1 };
    }
    const source: Pixels = resize ? await resized(frame, resize) : frame;
    const plan = planStrips(source.width, source.height, strips);
    const rowBytes = source.width * 3;
    const parts = await Promise.all(
      plan.map(({ top, height }) =>
        this.jpeg(sharp(source.pixels.subarray(top * rowBytes, (top + height) * rowBytes), { raw: { width: source.width, height, channels: 3 } })).toBuffer(),
      ),
    );
    return { jpeg: joinJpegStrips(parts), width: source.width, height: source.height, encodeUs: elapsedUs(started), strips: plan.length };
  }

  private jpeg(image: sharp.Sharp): sharp.Sharp {
    return image.jpeg({ quality: this.settings.quality, optimiseCoding: this.settings.optimiseCoding, chromaSubsampling: '4:2:0' });
  }
}

async function resized(frame: RawFrame, box: { width: number; height: number }): Promise<Pixels> {
  const { data, info } = await sharp(frame.pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize(box.width, box.height, { fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height };
}

function elapsedUs(started: number): number {
  return Math.round((performance.now() - started) * 1000);
}
