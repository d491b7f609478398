import sharp from 'sharp';
import { EncoderInputError } from '../common/errors';
import { joinJpegStrips } from '../common/jpeg-restart';
import type { FrameEncoder } from './frame-encoder';
import type { RawFrame } from './sources/frame-source';
import { planStrips } from './strip-plan';

export interface JpegSettings {
  quality: number;
  /** Huffman optimisation: about 10% smaller camera JPEGs for 2-3x the encode time (docs/benchmarks.md). */
  optimiseCoding: boolean;
  /** Scale to fit inside this box, keeping the aspect ratio. */
  resize?: { width: number; height: number } | undefined;
  /** Then scale by this factor (0-1]; --adapt lowers it on a slow link. Default 1. */
  scale?: number | undefined;
}

export interface EncodedFrame {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Wall time from submitting the frame to getting the JPEG back, µs. */
  encodeUs: number;
  /** Strips the frame was encoded in at once (1: a whole-frame encode). */
  strips: number;
  /** The JPEG quality it was encoded at (settings may change between frames: --adapt). */
  quality: number;
}

interface Pixels {
  pixels: Buffer;
  width: number;
  height: number;
}

// Raw frames are never read twice, so sharp's operation cache would only hold memory.
sharp.cache(false);

/**
 * Encodes packed RGB frames to baseline JPEG with sharp (libvips) on libuv's thread pool, whole or
 * as parallel strips. It reads `settings` afresh for every frame, so their owner may change
 * quality and scale as it goes. --encoder sharp; OpenCvJpegEncoder is the default's other half.
 */
export class JpegEncoder implements FrameEncoder {
  readonly order = 'rgb';

  constructor(private readonly settings: JpegSettings) {}

  /**
   * `strips` > 1 encodes horizontal strips on as many pool threads at once and joins them with
   * restart markers (common/jpeg-restart.ts): the frame decodes pixel-identical to a whole-frame
   * encode, about 0.03% larger. Needs optimised coding off; the caller decides (strip-plan.ts).
   */
  async encode(frame: RawFrame, strips = 1): Promise<EncodedFrame> {
    const started = performance.now();
    // sharp has no BGR input; swapping channels inside it costs 8 ms at 720p (the source should have delivered RGB).
    if (frame.order !== 'rgb') throw new EncoderInputError(`sharp encodes RGB frames, not ${frame.order.toUpperCase()}: open the source for the encoder's order`);
    const { quality } = this.settings;
    const resize = scaledBox(frame, this.settings.resize, this.settings.scale ?? 1);
    if (strips <= 1) {
      let image = sharp(frame.pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } });
      if (resize) image = image.resize(resize.width, resize.height, { fit: 'inside' });
      const { data, info } = await this.jpeg(image, quality).toBuffer({ resolveWithObject: true });
      return { jpeg: data, width: info.width, height: info.height, encodeUs: elapsedUs(started), strips: 1, quality };
    }
    const source: Pixels = resize ? await resized(frame, resize) : frame;
    const plan = planStrips(source.width, source.height, strips);
    const rowBytes = source.width * 3;
    const parts = await Promise.all(
      plan.map(({ top, height }) =>
        this.jpeg(sharp(source.pixels.subarray(top * rowBytes, (top + height) * rowBytes), { raw: { width: source.width, height, channels: 3 } }), quality).toBuffer(),
      ),
    );
    return { jpeg: joinJpegStrips(parts), width: source.width, height: source.height, encodeUs: elapsedUs(started), strips: plan.length, quality };
  }

  private jpeg(image: sharp.Sharp, quality: number): sharp.Sharp {
    return image.jpeg({ quality, optimiseCoding: this.settings.optimiseCoding, chromaSubsampling: '4:2:0' });
  }
}

/** The box to fit the frame into: --resize's, then scaled; undefined for the frame as it is. */
export function scaledBox(frame: { width: number; height: number }, resize: { width: number; height: number } | undefined, scale: number): { width: number; height: number } | undefined {
  if (scale >= 1) return resize;
  const box = resize ?? frame;
  return { width: Math.max(16, Math.round(box.width * scale)), height: Math.max(16, Math.round(box.height * scale)) };
}

async function resized(frame: RawFrame, box: { width: number; height: number }): Promise<Pixels> {
  const { data, info } = await sharp(frame.pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize(box.width, box.height, { fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height };
}

export function elapsedUs(started: number): number {
  return Math.round((performance.now() - started) * 1000);
}
