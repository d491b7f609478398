import { sizeName, type Clip } from './clip';
import type { EncodeCeiling } from './encode-ceiling';
import { runPipeline, type PipelineRun, type RunSettings, type Transport } from './pipeline';
import { round3 } from './usage-meter';

export interface Throughput {
  size: string;
  transport: Transport;
  /** Frames per second that reached the receiver. */
  fps: number;
  senderFps: number;
  /**
   * What all cores allow: cores x 1000 / (capture + encode + receive CPU ms per frame), each
   * measured alone. The unavoidable work per frame, spread perfectly over every core.
   */
  ceilingFps: number;
  ratio: number;
  /** One core's worth of encoding (1000 / sharp ms per frame): the pipeline must beat it. */
  oneCoreEncodeFps: number;
  run: PipelineRun;
}

export function ceilingFps(ceiling: EncodeCeiling, receiverCpuMsPerFrame: number): number {
  const perFrame = ceiling.capture.cpuMsPerFrame + ceiling.sharp.cpuMsPerFrame + receiverCpuMsPerFrame;
  return Math.round((ceiling.cores * 1000) / perFrame);
}

/**
 * Until the first major GC frees a round of JPEG buffers (about 64 MB of them), every frame
 * touches fresh memory, which a long-running stream does not.
 */
export function unthrottledWarmup(frames: number): number {
  return Math.min(500, Math.max(20, Math.round(frames / 4)));
}

/** One unthrottled run; `pythonReceiver` adds the pyzmq reference receiver beside zerocam's. */
export function runUnthrottled(clip: Clip, transport: Transport, frames: number, settings: RunSettings, pythonReceiver = false): Promise<PipelineRun> {
  const label = `${sizeName(clip)}-${transport}${pythonReceiver ? '-pyzmq' : ''}`;
  return runPipeline({ ...settings, clip, transport, fps: 0, warmupFrames: unthrottledWarmup(frames), frames, label, pythonReceiver });
}

/** Unthrottled: the sender reads and encodes as fast as it can, the receiver keeps up or drops. */
export async function measureThroughput(clip: Clip, transport: Transport, frames: number, ceiling: EncodeCeiling, settings: RunSettings): Promise<Throughput> {
  const run = await runUnthrottled(clip, transport, frames, settings);
  const ceilingFpsValue = ceilingFps(ceiling, run.receiver.usage.cpuMsPerFrame);
  return {
    size: run.size,
    transport,
    fps: run.receiver.fps,
    senderFps: run.sender.fps,
    ceilingFps: ceilingFpsValue,
    ratio: round3(run.receiver.fps / ceilingFpsValue),
    oneCoreEncodeFps: ceiling.sharp.fps,
    run,
  };
}
