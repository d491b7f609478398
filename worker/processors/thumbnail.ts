import sharp from 'sharp';
import type { Processor } from './processor';

const WIDTH = 160;

/** thumbnail: a small JPEG of the frame (sharp), as the result's image. */
export function thumbnailProcessor(): Processor {
  return {
    name: 'thumbnail',
    async process(frame) {
      const { data, info } = await sharp(frame.jpeg).resize({ width: Math.min(WIDTH, frame.width) }).jpeg({ quality: 70 }).toBuffer({ resolveWithObject: true });
      return { result: { width: info.width, height: info.height, bytes: data.length }, image: data };
    },
  };
}
