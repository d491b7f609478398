import { sizeName, type Clip } from './clip';
import { runPipeline, type PipelineRun, type RunSettings } from './pipeline';

/** A camera's pace. */
export const CAMERA_FPS = 30;

/**
 * Capture-to-receive latency at a camera's pace over tcp loopback: the sender reads the clip at
 * 30 fps (as it would a camera), so at most one frame is ever in flight and nothing queues.
 */
export function measureLatency(clip: Clip, seconds: number, settings: RunSettings): Promise<PipelineRun> {
  return runPipeline({
    ...settings,
    clip,
    transport: 'tcp',
    fps: CAMERA_FPS,
    warmupFrames: CAMERA_FPS,
    frames: Math.max(1, Math.round(seconds * CAMERA_FPS)),
    label: `${sizeName(clip)}-${CAMERA_FPS}fps`,
  });
}
