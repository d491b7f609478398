/**
 * A headless zerocam receiver (not saving) in a process of its own, for the bench: the Receiver
 * class as the CLI runs it, plus the CPU and RSS it used per frame. Driven by bench/pipeline.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULTS } from '../common/defaults';
import { createLogger } from '../common/log';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { Receiver } from '../receiver/receiver';
import { UsageMeter } from './usage-meter';
import { BENCH_TOPIC, type FromWorker, type ReceiverWorkerConfig, type ReceiverWorkerResult, postToBench, runWorker, whenTold } from './worker-ipc';

/** Once the sender has finished, the last frames are at most a few milliseconds behind it. */
const QUIET_MS = 200;

const post = (message: FromWorker<ReceiverWorkerResult>): Promise<void> => postToBench(message);

async function main(config: ReceiverWorkerConfig): Promise<void> {
  const receiver = await Receiver.open(
    {
      pattern: 'sub',
      attachment: { connect: [config.connect] },
      topics: [],
      out: undefined,
      every: DEFAULTS.saveEvery,
      fsync: false,
      maxFrameBytes: DEFAULTS.maxFrameBytes,
      receiveHighWaterMark: DEFAULTS.receiveHighWaterMark,
      curve: config.curve,
    },
    createLogger('bench-receiver', 'warn'),
  );
  // The bench sender's only stream; a full summary here would cost more than receiving at 30 fps does.
  const frames = (): number => receiver.stats.find(BENCH_TOPIC)?.frames ?? 0;
  const split = splitLatency(receiver);
  const onWarm = (): void => {
    // live() restarts the latency histogram, so the one read at the end covers the frames after warm-up.
    receiver.stats.live(Date.now());
    split.sender.reset();
    split.transport.reset();
  };
  const meter = new UsageMeter(frames, config.warmupFrames, onWarm, config.rssSampleEvery);
  const stop = new AbortController();
  void whenTold('stop').then(() => stopWhenQuiet(frames, stop));
  try {
    meter.start();
    const running = receiver.run(stop.signal);
    await post({ type: 'ready', endpoint: receiver.endpoint });
    await running;
    const usage = meter.finish();
    const sinceWarm = receiver.stats.live(Date.now()).latencyMs;
    const summary = receiver.stats.final(Date.now());
    // A run too short to measure after warm-up is measured whole.
    const latencyMs = usage.frames < summary.frames ? sinceWarm : summary.latencyMs;
    await post({
      type: 'result',
      result: {
        frames: summary.frames,
        fps: summary.fps,
        dropped: summary.dropped,
        skipped: summary.skipped,
        rejected: summary.rejected,
        latencyMs,
        latencySplitMs: { sender: split.sender.percentilesMs(), transport: split.transport.percentilesMs() },
        usage,
      },
    });
    await whenTold('exit');
  } finally {
    await receiver.close();
  }
}

/**
 * Splits each frame's latency at the send time the sender stamps in the header: capture to
 * handed to the socket (conversion, encode, ordering), then socket to received (ZeroMQ, the
 * kernel, the receiver's event loop). Both clocks are this machine's.
 */
function splitLatency(receiver: Receiver): { sender: LatencyHistogram; transport: LatencyHistogram } {
  const split = { sender: new LatencyHistogram(), transport: new LatencyHistogram() };
  const count = receiver.stats.onFrame.bind(receiver.stats);
  receiver.stats.onFrame = (frame, receiveUs) => {
    split.sender.recordMicros(frame.header.sendUs - frame.header.captureUs);
    split.transport.recordMicros(receiveUs - frame.header.sendUs);
    return count(frame, receiveUs);
  };
  return split;
}

async function stopWhenQuiet(frames: () => number, stop: AbortController): Promise<void> {
  for (let seen = -1; frames() !== seen; ) {
    seen = frames();
    await sleep(QUIET_MS);
  }
  stop.abort();
}

runWorker<ReceiverWorkerConfig>(main);
