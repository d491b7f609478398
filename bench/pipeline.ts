import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sizeLabel, type Clip } from './clip';
import { ForeignLoad } from './foreign-load';
import { PythonReceiver, type PythonReceiverResult } from './python-receiver';
import { Worker, type ReceiverWorkerConfig, type ReceiverWorkerResult, type SenderWorkerConfig, type SenderWorkerResult } from './worker-ipc';

export type Transport = 'tcp' | 'ipc';

/** What every run of one bench shares. */
export interface RunSettings {
  /** Encodes in flight in the sender (DEFAULTS.encodeConcurrency unless --encode-concurrency). */
  encodeConcurrency: number;
  /** Write V8 CPU profiles of both processes here (node --cpu-prof). */
  profileDir?: string | undefined;
}

export interface PipelineOptions extends RunSettings {
  clip: Clip;
  transport: Transport;
  /** 0 = unthrottled. */
  fps: number;
  /** Frames measured after warm-up. */
  frames: number;
  warmupFrames: number;
  rssSampleEvery?: number | undefined;
  label: string;
  /** Sender settings other than the defaults: --strips, --encoder, --passthrough (with an MJPEG clip). */
  senderSettings?: Pick<SenderWorkerConfig, 'strips' | 'passthrough' | 'encoder'> | undefined;
  curve?: { sender: NonNullable<SenderWorkerConfig['curve']>; receiver: NonNullable<ReceiverWorkerConfig['curve']> } | undefined;
  /** Also connect bench/python-receiver.py to the same sender, beside zerocam's receiver. */
  pythonReceiver?: boolean | undefined;
}

export interface PipelineRun {
  label: string;
  size: string;
  transport: Transport;
  pacedFps: number;
  sender: SenderWorkerResult;
  receiver: ReceiverWorkerResult;
  /** The pyzmq reference receiver on the same frames, when asked for. */
  pythonReceiver?: PythonReceiverResult | undefined;
  /** Per cent of the machine's CPU time that processes other than this run's used while it ran; null off Linux. */
  otherProcessesPercent: number | null;
}

/**
 * Joining takes a TCP handshake and a subscription, a millisecond or two; a PUB socket drops
 * what it sends before then. Frames lost here would only shorten the warm-up.
 */
const JOIN_MS = 250;

/**
 * One run of file source -> sender -> socket -> headless receiver, each side in a process of its
 * own as users run them: the sender binds, the receiver connects, and the sender streams
 * warm-up + measured frames of the looping clip.
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineRun> {
  const socketDir = options.transport === 'ipc' ? await mkdtemp(join(tmpdir(), 'zc-bench-')) : undefined;
  const bind = socketDir ? `ipc://${join(socketDir, 'bench.sock')}` : 'tcp://127.0.0.1:*';
  const senderConfig: SenderWorkerConfig = {
    clip: options.clip.path,
    bind,
    fps: options.fps,
    warmupFrames: options.warmupFrames,
    frames: options.frames,
    encodeConcurrency: options.encodeConcurrency,
    rssSampleEvery: options.rssSampleEvery,
    ...options.senderSettings,
    curve: options.curve?.sender,
  };
  const sender = new Worker<SenderWorkerResult>('sender-worker', senderConfig, options.profileDir, `sender-${options.label}`);
  let receiver: Worker<ReceiverWorkerResult> | undefined;
  let python: PythonReceiver | undefined;
  try {
    const endpoint = await sender.ready();
    const receiverConfig: ReceiverWorkerConfig = { connect: endpoint, warmupFrames: options.warmupFrames, rssSampleEvery: options.rssSampleEvery, curve: options.curve?.receiver };
    receiver = new Worker<ReceiverWorkerResult>('receiver-worker', receiverConfig, options.profileDir, `receiver-${options.label}`);
    await receiver.ready();
    if (options.pythonReceiver) python = await PythonReceiver.start(endpoint, options.warmupFrames);
    await sleep(JOIN_MS);
    const foreign = new ForeignLoad([process.pid, sender.pid, receiver.pid, ...(python ? [python.pid] : [])]);
    sender.send({ type: 'go' });
    const senderResult = await sender.result();
    receiver.send({ type: 'stop' });
    const [receiverResult, pythonResult] = await Promise.all([receiver.result(), python?.result()]);
    const otherProcessesPercent = foreign.percent();
    await Promise.all([sender.close(), receiver.close(), python?.close()]);
    return {
      label: options.label,
      size: sizeLabel(options.clip),
      transport: options.transport,
      pacedFps: options.fps,
      sender: senderResult,
      receiver: receiverResult,
      ...(pythonResult ? { pythonReceiver: pythonResult } : {}),
      otherProcessesPercent,
    };
  } finally {
    sender.kill();
    receiver?.kill();
    await python?.close();
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  }
}
