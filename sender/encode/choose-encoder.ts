import { DEFAULTS, type EncoderName } from '../../common/defaults';
import { UsageError } from '../../common/errors';
import { loadOpenCv } from '../../common/opencv-loader';
import type { FrameEncoder, JpegSettings } from './frame-encoder';
import { OpenCvJpegEncoder } from './opencv-jpeg-encoder';
import { SharpJpegEncoder } from './sharp-jpeg-encoder';

/**
 * --encoder: `opencv` (cv.imencode on BGR, docs/benchmarks.md "Choices") or `sharp` (libvips on
 * RGB). Undefined means the default; where the OpenCV addon is not built, that is sharp, so the
 * test pattern still runs anywhere. Asked for by name, a missing addon is a usage error.
 */
export function createFrameEncoder(name: EncoderName | undefined, settings: JpegSettings): FrameEncoder {
  if ((name ?? DEFAULTS.encoder) === 'sharp') return new SharpJpegEncoder(settings);
  try {
    loadOpenCv();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    if (name === undefined) return new SharpJpegEncoder(settings);
    throw new UsageError(`--encoder opencv: ${error.message}; or use --encoder sharp`);
  }
  return new OpenCvJpegEncoder(settings);
}
