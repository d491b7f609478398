import { sizeName, type Clip } from './clip';
import { runPipeline, type PipelineRun, type RunSettings } from './pipeline';

export interface SoakResult {
  size: string;
  frames: number;
  /** RSS growth over the run after warm-up, per cent: the mean of the last quarter of samples against the first. */
  senderGrowthPercent: number;
  receiverGrowthPercent: number;
  run: PipelineRun;
}

const SAMPLES = 20;
/** RSS swings by several per cent with the garbage collector's rhythm, so each end is the mean of a quarter of the samples. */
const AVERAGED = SAMPLES / 4;

function growth(samples: [number, number][], warm: number, end: number): number {
  const mean = (part: [number, number][]): number => part.reduce((sum, [, rss]) => sum + rss, 0) / part.length;
  const [from, to] = samples.length >= 2 * AVERAGED ? [mean(samples.slice(0, AVERAGED)), mean(samples.slice(-AVERAGED))] : [warm, end];
  return Math.round(((to - from) / from) * 1000) / 10;
}

/**
 * A long unthrottled run that watches RSS for leaks. Growth is counted from the end of warm-up:
 * before the first frames, buffers, libvips' caches and the thread pool do not exist yet, and
 * their arrival is a working set, not a leak.
 */
export async function soak(clip: Clip, frames: number, settings: RunSettings): Promise<SoakResult> {
  const warmupFrames = Math.min(1000, Math.max(30, Math.round(frames / 20)));
  const run = await runPipeline({
    ...settings,
    clip,
    transport: 'tcp',
    fps: 0,
    warmupFrames,
    frames,
    rssSampleEvery: Math.max(1, Math.round(frames / SAMPLES)),
    label: `soak-${sizeName(clip)}`,
  });
  return {
    size: run.size,
    frames,
    senderGrowthPercent: growth(run.sender.usage.rssSamples, run.sender.usage.rssWarmBytes, run.sender.usage.rssEndBytes),
    receiverGrowthPercent: growth(run.receiver.usage.rssSamples, run.receiver.usage.rssWarmBytes, run.receiver.usage.rssEndBytes),
    run,
  };
}
