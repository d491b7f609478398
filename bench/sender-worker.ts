/**
 * A zerocam sender in a process of its own, for the bench: the FrameStreamer as the CLI runs it,
 * streaming a looping clip, plus the CPU and RSS it used per frame. Driven by bench/pipeline.ts.
 */
import { DEFAULTS } from '../common/defaults';
import { createLogger } from '../common/log';
import { FrameStreamer } from '../sender/frame-streamer';
import { sizeThreadPool } from '../sender/encode/thread-pool';
import { UsageMeter } from './usage-meter';
import { BENCH_TOPIC, type FromWorker, type SenderWorkerConfig, type SenderWorkerResult, postToBench, runWorker, whenTold } from './worker-ipc';

const post = (message: FromWorker<SenderWorkerResult>): Promise<void> => postToBench(message);

async function main(config: SenderWorkerConfig): Promise<void> {
  const threadPoolSize = sizeThreadPool(config.encodeConcurrency);
  const sender = await FrameStreamer.open({
    source: { kind: 'file', path: config.clip },
    pattern: 'pub',
    attachment: { bind: config.bind },
    topic: BENCH_TOPIC,
    width: DEFAULTS.width,
    height: DEFAULTS.height,
    fps: config.fps,
    loop: true,
    jpeg: { quality: DEFAULTS.quality, optimiseCoding: DEFAULTS.jpegOptimiseCoding },
    frames: config.warmupFrames + config.frames,
    encodeConcurrency: config.encodeConcurrency,
    ...(config.strips === undefined ? {} : { strips: config.strips }),
    ...(config.encoder === undefined ? {} : { encoder: config.encoder }),
    passthrough: config.passthrough ?? false,
    curve: config.curve && { key: config.curve.key, allow: new Set(config.curve.allow) },
  }, createLogger('bench-sender', 'warn'));
  try {
    await post({ type: 'ready', endpoint: sender.endpoint });
    await whenTold('go');
    const meter = new UsageMeter(() => sender.stats.frames, config.warmupFrames, undefined, config.rssSampleEvery);
    meter.start();
    if (config.idleMs === undefined) await sender.run(new AbortController().signal);
    else await sender.run(AbortSignal.timeout(config.idleMs));
    const usage = meter.finish();
    const summary = sender.stats.final();
    await post({
      type: 'result',
      result: {
        framesSent: summary.frames,
        skipped: summary.skipped,
        fps: summary.fps,
        encodeMs: summary.encodeMs,
        meanJpegBytes: Math.round(summary.bytes / Math.max(1, summary.frames)),
        threadPoolSize,
        encodeConcurrency: config.encodeConcurrency,
        usage,
      },
    });
    await whenTold('exit');
  } finally {
    sender.close();
  }
}

runWorker<SenderWorkerConfig>(main);
