import type { ProcessUsage } from './worker-ipc';

/** How often a worker looks at its frame count; a poll costs microseconds, so it does not skew the CPU figures. */
const POLL_MS = 50;

function cpuMsNow(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function faultsNow(): number {
  return process.resourceUsage().minorPageFault;
}

/**
 * Measures this process's CPU and RSS over the frames after warm-up: the first frames pay for
 * JIT compilation, thread start-up and buffer allocation, which a long-running stream does not.
 * The frame count comes from the caller's stats, looked at every few milliseconds.
 */
export class UsageMeter {
  private readonly rssStartBytes = process.memoryUsage.rss();
  private startedAt = { cpuMs: cpuMsNow(), faults: faultsNow() };
  private warm: { frames: number; cpuMs: number; faults: number; rssBytes: number } | undefined;
  private readonly rssSamples: [number, number][] = [];
  private nextSample: number;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly frames: () => number,
    private readonly warmupFrames: number,
    private readonly onWarm: () => void = () => undefined,
    private readonly rssSampleEvery?: number,
  ) {
    this.nextSample = rssSampleEvery ?? Infinity;
  }

  start(): void {
    this.startedAt = { cpuMs: cpuMsNow(), faults: faultsNow() };
    this.timer = setInterval(() => this.poll(), POLL_MS);
  }

  /** Stops polling and returns the usage since warm-up (or since start, if the run was too short to warm up). */
  finish(): ProcessUsage {
    clearInterval(this.timer);
    const frames = this.frames();
    const cpuMs = cpuMsNow();
    const faults = faultsNow();
    const warm = this.warm && this.warm.frames < frames ? this.warm : undefined;
    const from = warm ?? { frames: 0, ...this.startedAt, rssBytes: this.rssStartBytes };
    const measured = frames - from.frames;
    const spent = cpuMs - from.cpuMs;
    return {
      frames: measured,
      cpuMs: round3(spent),
      cpuMsPerFrame: measured > 0 ? round3(spent / measured) : 0,
      pageFaultsPerFrame: measured > 0 ? Math.round((faults - from.faults) / measured) : 0,
      rssStartBytes: this.rssStartBytes,
      rssWarmBytes: from.rssBytes,
      rssEndBytes: process.memoryUsage.rss(),
      rssSamples: this.rssSamples,
    };
  }

  private poll(): void {
    const frames = this.frames();
    if (!this.warm && frames >= this.warmupFrames && frames > 0) {
      this.warm = { frames, cpuMs: cpuMsNow(), faults: faultsNow(), rssBytes: process.memoryUsage.rss() };
      this.onWarm();
    }
    if (frames >= this.nextSample) {
      this.rssSamples.push([frames, process.memoryUsage.rss()]);
      while (this.nextSample <= frames) this.nextSample += this.rssSampleEvery ?? Infinity;
    }
  }
}

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
