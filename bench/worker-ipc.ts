import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { CurveKeyPair } from '../common/sockets/curve-keys';
import type { EncoderName } from '../common/defaults';
import type { Percentiles } from '../common/stats/latency-histogram';
import { describeError } from '../common/errors';

/**
 * The environment workers start with: this process's as it was given, before the bench sized its
 * own thread pool, so that a sender worker sizes its pool as the sender CLI would.
 */
const workerEnvironment: NodeJS.ProcessEnv = { ...process.env };

/** The stream name the bench sender uses. */
export const BENCH_TOPIC = 'bench';

/** CPU and memory of one worker process over the measured part of a run (after warm-up). */
export interface ProcessUsage {
  /** Frames counted in the measured part. */
  frames: number;
  cpuMs: number;
  cpuMsPerFrame: number;
  /**
   * Minor page faults per frame: memory touched for the first time. On a VM each costs
   * microseconds, so a buffer that is allocated afresh for every frame shows here.
   */
  pageFaultsPerFrame: number;
  /** RSS before the first frame, after warm-up, and at the end. */
  rssStartBytes: number;
  rssWarmBytes: number;
  rssEndBytes: number;
  /** [frames so far, RSS] every `rssSampleEvery` frames, when asked for. */
  rssSamples: [number, number][];
}

export interface SenderWorkerConfig {
  clip: string;
  bind: string;
  /** 0 = unthrottled. */
  fps: number;
  warmupFrames: number;
  frames: number;
  encodeConcurrency: number;
  rssSampleEvery?: number | undefined;
  /** --encoder (default: the sender's own default). */
  encoder?: EncoderName | undefined;
  /** --strips (default: the sender's own default). */
  strips?: number | 'auto' | undefined;
  /** --passthrough: the clip is MJPEG and its frames are sent as they are. */
  passthrough?: boolean | undefined;
  /** Idle run: no receiver; after 'go', measure the CPU the sender uses for this long, then report. */
  idleMs?: number | undefined;
  /** CURVE server key pair and the client keys it allows; plaintext without it. */
  curve?: { key: CurveKeyPair; allow: string[] } | undefined;
}

export interface SenderWorkerResult {
  framesSent: number;
  skipped: number;
  /** First to last frame sent, over the whole run. */
  fps: number;
  encodeMs: { mean: number; p50: number; p99: number };
  meanJpegBytes: number;
  threadPoolSize: number;
  encodeConcurrency: number;
  usage: ProcessUsage;
}

export interface ReceiverWorkerConfig {
  connect: string;
  warmupFrames: number;
  rssSampleEvery?: number | undefined;
  /** CURVE client key pair and the server's public key; plaintext without it. */
  curve?: { key: CurveKeyPair; serverKey: string } | undefined;
}

export interface ReceiverWorkerResult {
  frames: number;
  /** First to last frame received. */
  fps: number;
  dropped: number;
  skipped: number;
  rejected: number;
  /** Capture to receive, over the frames after warm-up. */
  latencyMs: Percentiles;
  /** The same, split at the header's send time: capture to socket, and socket to receiver. */
  latencySplitMs: { sender: Percentiles; transport: Percentiles };
  usage: ProcessUsage;
}

export type ToWorker = { type: 'go' } | { type: 'stop' } | { type: 'exit' };

/** In a worker: resolves when the bench sends this message. */
export function whenTold(type: ToWorker['type']): Promise<void> {
  return new Promise((resolve) => {
    const listener = (message: ToWorker): void => {
      if (message.type !== type) return;
      process.off('message', listener);
      resolve();
    };
    process.on('message', listener);
  });
}
export type FromWorker<R> = { type: 'ready'; endpoint: string } | { type: 'result'; result: R } | { type: 'error'; message: string };

const running = new Set<Worker<unknown>>();

/** Ends every worker still running, e.g. when the bench is interrupted; waiting callers then fail. */
export function killWorkers(): void {
  for (const worker of running) worker.kill();
}

/**
 * One bench worker (a sender or a receiver in a process of its own, as users run them), driven
 * over Node's IPC channel. Its config travels as one JSON argument.
 */
export class Worker<R> {
  private readonly child: ChildProcess;
  private readonly messages: FromWorker<R>[] = [];
  private waiting: (() => void) | undefined;
  private exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  constructor(script: 'sender-worker' | 'receiver-worker', config: object, profileDir?: string, profileName?: string) {
    const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${profileName ?? script}.cpuprofile`] : [];
    this.child = fork(join(__dirname, `${script}.js`), [JSON.stringify(config)], { execArgv, env: workerEnvironment, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    this.child.on('message', (message) => {
      this.messages.push(message as FromWorker<R>);
      this.wake();
    });
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.exitCode = code;
        running.delete(this);
        this.wake();
        resolve();
      }),
    );
    running.add(this);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async ready(): Promise<string> {
    const message = await this.next('ready');
    return message.endpoint;
  }

  async result(): Promise<R> {
    const message = await this.next('result');
    return message.result;
  }

  send(message: ToWorker): void {
    this.child.send(message);
  }

  /** Lets the worker exit, once its CPU time has been read from outside. */
  async close(): Promise<void> {
    if (this.exitCode === undefined) this.send({ type: 'exit' });
    await this.exited;
  }

  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }

  private async next<T extends FromWorker<R>['type']>(type: T): Promise<Extract<FromWorker<R>, { type: T }>> {
    for (;;) {
      const index = this.messages.findIndex((m) => m.type === type || m.type === 'error');
      if (index >= 0) {
        const [message] = this.messages.splice(index, 1);
        if (message?.type === 'error') throw new Error(`bench worker failed: ${message.message}`);
        return message as Extract<FromWorker<R>, { type: T }>;
      }
      if (this.exitCode !== undefined) throw new Error(`bench worker exited (code ${this.exitCode}) before sending "${type}"`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/** Sends a message to the bench process; resolves once it is handed over. */
export function postToBench<R>(message: FromWorker<R>): Promise<void> {
  return new Promise((resolve) => process.send!(message, () => resolve()));
}

/**
 * A worker's entry point: runs `main` with the config the bench passed as argv[2], reports a failure
 * to the bench, and exits. A worker whose bench went away (interrupted, or failed) exits at once:
 * nobody is left to read its result.
 */
export function runWorker<C>(main: (config: C) => Promise<void>): void {
  process.on('disconnect', () => process.exit(1));
  main(JSON.parse(process.argv[2] ?? '{}') as C).then(
    () => process.exit(0),
    async (error: unknown) => {
      await postToBench({ type: 'error', message: describeError(error) });
      process.exit(1);
    },
  );
}
