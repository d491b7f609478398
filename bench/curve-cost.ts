import { generateKeyPair } from '../common/curve-keys';
import { sizeName, type Clip } from './clip';
import { CAMERA_FPS } from './latency';
import { runPipeline, type PipelineRun, type RunSettings } from './pipeline';
import { table } from './report';

/** The same 30 fps run in plaintext and with CURVE (the receiver's key on the sender's allowlist), one after the other. */
export interface CurveCost {
  plaintext: PipelineRun;
  curve: PipelineRun;
  /** CURVE's extra CPU per frame, sender and receiver together. */
  extraCpuMsPerFrame: number;
  /** The target for that extra CPU. */
  targetMs: number;
}

export const CURVE_TARGET_MS = 0.5;

function cpuBothEnds(run: PipelineRun): number {
  return run.sender.usage.cpuMsPerFrame + run.receiver.usage.cpuMsPerFrame;
}

export async function measureCurveCost(clip: Clip, seconds: number, settings: RunSettings): Promise<CurveCost> {
  const common = { ...settings, clip, transport: 'tcp' as const, fps: CAMERA_FPS, warmupFrames: CAMERA_FPS, frames: Math.max(1, Math.round(seconds * CAMERA_FPS)) };
  const plaintext = await runPipeline({ ...common, label: `${sizeName(clip)}-plaintext` });
  const server = generateKeyPair();
  const client = generateKeyPair();
  const curve = await runPipeline({
    ...common,
    label: `${sizeName(clip)}-curve`,
    curve: { sender: { key: server, allow: [client.publicKey] }, receiver: { key: client, serverKey: server.publicKey } },
  });
  const extra = cpuBothEnds(curve) - cpuBothEnds(plaintext);
  return { plaintext, curve, extraCpuMsPerFrame: Math.round(extra * 1000) / 1000, targetMs: CURVE_TARGET_MS };
}

const f2 = (x: number): string => x.toFixed(2);

export function curveSection(cost: CurveCost): string {
  const rows = [['plaintext', cost.plaintext] as const, ['CURVE', cost.curve] as const].map(([mode, run]) => [
    mode,
    sizeName(run.size),
    run.receiver.usage.frames,
    f2(run.sender.usage.cpuMsPerFrame),
    f2(run.receiver.usage.cpuMsPerFrame),
    f2(cpuBothEnds(run)),
    f2(run.receiver.latencyMs.p50),
    f2(run.receiver.latencyMs.p99),
    run.receiver.dropped,
    run.otherProcessesPercent === null ? '?' : `${run.otherProcessesPercent}%`,
  ]);
  const verdict = cost.extraCpuMsPerFrame <= cost.targetMs ? 'meets' : 'misses';
  return (
    table(['mode', 'size', 'frames', 'sender CPU ms/frame', 'receiver CPU ms/frame', 'both ms/frame', 'p50 ms', 'p99 ms', 'dropped', 'CPU used by others'], rows) +
    `\nCURVE adds ${f2(cost.extraCpuMsPerFrame)} ms CPU per frame for both ends together: ${verdict} the target of at most ${f2(cost.targetMs)} ms.`
  );
}
