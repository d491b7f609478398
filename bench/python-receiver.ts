import { join } from 'node:path';
import { DEFAULTS } from '../common/defaults';
import { LineChild } from './line-child';
import { PYTHON } from './python-reference';

const SCRIPT = join(__dirname, '..', '..', 'bench', 'python-receiver.py');

export interface PythonReceiverResult {
  frames: number;
  fps: number;
  dropped: number;
  duplicates: number;
  rejected: number;
  /** By reason, named as docs/protocol.md "Validation" names them. */
  rejectedBy: Record<string, number>;
  /** Frames after warm-up, over which cpuMs was measured. */
  measuredFrames: number;
  cpuMs: number;
  cpuMsPerFrame: number;
  latencyMs: { p50: number; p99: number };
}

/**
 * bench/python-receiver.py, the pyzmq SUB loop that validates every frame as zerocam's receiver
 * does, connected to a sender beside zerocam's receiver: the reference the receiver's CPU is judged against.
 */
export class PythonReceiver {
  private readonly child: LineChild;

  private constructor(child: LineChild) {
    this.child = child;
  }

  /** Resolves once it has connected and subscribed. */
  static async start(endpoint: string, warmupFrames: number, maxFrameBytes = DEFAULTS.maxFrameBytes): Promise<PythonReceiver> {
    const receiver = new PythonReceiver(new LineChild(PYTHON, [SCRIPT, endpoint, String(warmupFrames), String(maxFrameBytes)]));
    try {
      const ready = await receiver.child.line();
      if (ready !== 'ready') throw new Error(`python-receiver.py said "${ready}" instead of ready`);
    } catch (error) {
      await receiver.close();
      throw error;
    }
    return receiver;
  }

  get pid(): number {
    return this.child.pid;
  }

  /** Once the sender is done: it ends at its first quiet moment and reports. */
  async result(): Promise<PythonReceiverResult> {
    this.child.send('stop');
    return this.child.json<PythonReceiverResult>();
  }

  close(): Promise<void> {
    return this.child.stop();
  }
}
