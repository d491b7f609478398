import { DEFAULTS, type EncoderName } from '../common/defaults';
import { UsageError } from '../common/errors';
import { JpegEncoder, type EncodedFrame, type JpegSettings } from './jpeg-encoder';
import { OpenCvJpegEncoder } from './opencv-jpeg-encoder';
import { loadOpenCv } from './sources/opencv-loader';
import type { ChannelOrder, RawFrame } from './sources/frame-source';

/**
 * Turns raw frames into baseline JPEG, whole or as parallel strips joined with restart markers
 * (common/jpeg-restart.ts). The encode pipeline (encode-pipeline.ts) runs either implementation.
 */
export interface FrameEncoder {
  /** The byte order it takes without converting; sources deliver frames in it. */
  readonly order: ChannelOrder;
  encode(frame: RawFrame, strips?: number): Promise<EncodedFrame>;
}

/**
 * --encoder: `opencv` (cv.imencode on BGR, docs/benchmarks.md "Choices") or `sharp` (libvips on
 * RGB). Undefined means the default; where the OpenCV addon is not built, that is sharp, so the
 * test pattern still runs anywhere. Asked for by name, a missing addon is a usage error.
 */
export function createFrameEncoder(name: EncoderName | undefined, settings: JpegSettings): FrameEncoder {
  if ((name ?? DEFAULTS.encoder) === 'sharp') return new JpegEncoder(settings);
  try {
    loadOpenCv();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (name === undefined) return new JpegEncoder(settings);
    throw new UsageError(`--encoder opencv: ${error.message}; or use --encoder sharp`);
  }
  return new OpenCvJpegEncoder(settings);
}
