import { createRequire } from 'node:module';
import type * as OpenCvModule from '@u4/opencv4nodejs';
import { UsageError } from './errors';

export type OpenCv = typeof OpenCvModule;

let loaded: OpenCv | undefined;

/**
 * Loads @u4/opencv4nodejs on first use only, so testsrc runs where OpenCV is not installed.
 * The loader looks for its own auto-build unless told not to, and prints "Info:" lines to stdout
 * (where our stats go) unless silenced first.
 */
export function loadOpenCv(fallback = 'use --source testsrc'): OpenCv {
  if (loaded) return loaded;
  process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
  process.env.OPENCV_LOG_LEVEL ??= 'SILENT';
  const require = createRequire(__filename);
  try {
    (require('@u4/opencv-build') as { Log: { silence: boolean } }).Log.silence = true;
    loaded = require('@u4/opencv4nodejs') as OpenCv;
  } catch (error) {
    const detail = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new UsageError(
      `the OpenCV addon is not available (${detail}); run "npm run setup" to build it against libopencv-dev, or ${fallback}`,
    );
  }
  return loaded;
}
