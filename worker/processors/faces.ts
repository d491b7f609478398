import { existsSync } from 'node:fs';
import { UsageError } from '../../common/errors';
import { loadOpenCv } from '../../common/opencv-loader';
import type { Box, Processor } from './processor';

/** Debian's opencv-data ships the same cascade here. */
const DEBIAN_CASCADE = '/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt2.xml';
/** Frames wider than this are searched at this width (boxes scaled back): faces under ~30 px at 720p are lost, and it is 2-3x faster. */
const SEARCH_WIDTH = 640;

/**
 * faces: OpenCV's cascade classifier with the frontal-face cascade (haarcascade_frontalface_alt2)
 * from the OpenCV addon, or Debian's opencv-data. One classifier per frame in flight, since a
 * classifier is not safe to share between threads.
 */
export function facesProcessor(): Processor {
  const cv = loadOpenCv('use another --processor');
  // One thread per frame: a worker scales with --jobs and with processes, and OpenCV's own pool
  // would fight them for the cores (faces on 2 cores: 1.15x from a second worker with it, see docs/benchmarks.md).
  cv.setNumThreads(1);
  const cascade = [cv.HAAR_FRONTALFACE_ALT2, DEBIAN_CASCADE].find((path) => typeof path === 'string' && existsSync(path));
  if (!cascade) throw new UsageError(`no frontal-face cascade found (the OpenCV addon's, or ${DEBIAN_CASCADE}: apt-get install opencv-data)`);
  const idle: Array<InstanceType<typeof cv.CascadeClassifier>> = [new cv.CascadeClassifier(cascade)];
  return {
    name: 'faces',
    async process(frame) {
      const classifier = idle.pop() ?? new cv.CascadeClassifier(cascade);
      try {
        let grey = await cv.imdecodeAsync(frame.jpeg, cv.IMREAD_GRAYSCALE);
        const scale = grey.cols > SEARCH_WIDTH ? SEARCH_WIDTH / grey.cols : 1;
        if (scale !== 1) grey = await grey.resizeAsync(Math.round(grey.rows * scale), SEARCH_WIDTH);
        const equalised = await grey.equalizeHistAsync();
        const { objects } = await classifier.detectMultiScaleAsync(equalised, 1.1, 3, 0, new cv.Size(24, 24));
        const boxes: Box[] = objects.map((rect) => ({ x: Math.round(rect.x / scale), y: Math.round(rect.y / scale), w: Math.round(rect.width / scale), h: Math.round(rect.height / scale), label: 'face' }));
        return { result: { faces: boxes.length, boxes } };
      } finally {
        idle.push(classifier);
      }
    },
  };
}
