import sharp from 'sharp';
import { EncoderInputError } from '../../common/errors';
import { joinJpegStrips } from './jpeg-restart';
import { elapsedUs, scaledBox, type EncodedFrame, type FrameEncoder, type JpegSettings } from './frame-encoder';
import type { RawFrame } from '../sources/frame-source';
import { planStrips } from './strip-plan';

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
 * quality and scale as it goes. --encoder sharp; OpenCvJpegEncoder (the default) is the other implementation.
 */
export class SharpJpegEncoder implements FrameEncoder {
  readonly order = 'rgb';

  constructor(private readonly settings: JpegSettings) {}

  /**
   * `strips` > 1 encodes horizontal strips on as many pool threads at once and joins them with
   * restart markers (sender/encode/jpeg-restart.ts): the frame decodes pixel-identical to a whole-frame
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

async function resized(frame: RawFrame, box: { width: number; height: number }): Promise<Pixels> {
  const { data, info } = await sharp(frame.pixels, { raw: { width: frame.width, height: frame.height, channels: 3 } })
    .resize(box.width, box.height, { fit: 'inside' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { pixels: data, width: info.width, height: info.height };
}
