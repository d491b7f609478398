import { loadOpenCv } from '../../common/opencv-loader';
import type { Box, Processor } from './processor';

/** Width the frame is analysed at; boxes are scaled back to the frame's own pixels. */
const ANALYSIS_WIDTH = 160;
/** A pixel whose grey level moved by more than this changed. */
const PIXEL_THRESHOLD = 25;
/** Changed areas smaller than this share of the analysed frame are noise. */
const MIN_BOX_SHARE = 0.002;
const MAX_BOXES = 16;
/** Streams whose previous frame is kept; past it the longest unseen is forgotten. */
const MAX_STREAMS = 64;

/**
 * motion: OpenCV on a downscaled, blurred grey frame, compared with the stream's previous one. The
 * result is the fraction of the frame that changed and the boxes around the changes. It keeps one
 * frame per stream: run the hub with --affinity stream so each stream's frames come to one worker.
 */
export function motionProcessor(): Processor {
  const cv = loadOpenCv('use another --processor');
  // One thread per frame: a worker scales with --jobs and with processes, and OpenCV's own pool
  // would fight them for the cores (faces on 2 cores: 1.15x from a second worker with it, see docs/benchmarks.md).
  cv.setNumThreads(1);
  const previous = new Map<string, { session: number; grey: InstanceType<typeof cv.Mat> }>();
  return {
    name: 'motion',
    async process(frame) {
      const decoded = await cv.imdecodeAsync(frame.jpeg, cv.IMREAD_GRAYSCALE);
      const scale = ANALYSIS_WIDTH / decoded.cols;
      const small = await decoded.resizeAsync(Math.max(1, Math.round(decoded.rows * scale)), ANALYSIS_WIDTH);
      const grey = await small.gaussianBlurAsync(new cv.Size(5, 5), 0);
      const before = previous.get(frame.topic);
      previous.delete(frame.topic);
      previous.set(frame.topic, { session: frame.session, grey });
      if (previous.size > MAX_STREAMS) previous.delete(previous.keys().next().value!);
      if (!before || before.session !== frame.session || before.grey.rows !== grey.rows) return { result: { changed: 0, boxes: [], first: true } };
      const diff = grey.absdiff(before.grey);
      const mask = await diff.thresholdAsync(PIXEL_THRESHOLD, 255, cv.THRESH_BINARY);
      const dilated = await mask.dilateAsync(new cv.Mat(3, 3, cv.CV_8U, 1), new cv.Point2(-1, -1), 2);
      const changed = mask.countNonZero() / (mask.rows * mask.cols);
      const minArea = MIN_BOX_SHARE * mask.rows * mask.cols;
      const boxes: Box[] = dilated
        .findContours(cv.RETR_EXTERNAL, cv.CHAIN_APPROX_SIMPLE)
        .map((contour) => contour.boundingRect())
        .filter((rect) => rect.width * rect.height >= minArea)
        .sort((a, b) => b.width * b.height - a.width * a.height)
        .slice(0, MAX_BOXES)
        .map((rect) => ({ x: Math.round(rect.x / scale), y: Math.round(rect.y / scale), w: Math.round(rect.width / scale), h: Math.round(rect.height / scale), label: 'motion' }));
      return { result: { changed: Math.round(changed * 10_000) / 10_000, boxes } };
    },
  };
}
