import { generateKeyPair } from '../common/sockets/curve-keys';
import { sizeName, type Clip } from './clip';
import { CAMERA_FPS } from './latency';
import { measureCurveTransport, type TransportCost } from './curve-transport';
import { runPipeline, type PipelineRun, type RunSettings } from './pipeline';
import { table } from './markdown-table';

/**
 * The same 30 fps run in plaintext and with CURVE (the receiver's key on the sender's allowlist),
 * one after the other; and the socket path alone, in alternating rounds, for the CPU difference
 * that the encode's CPU (and its noise) would otherwise hide.
 */
export interface CurveCost {
  plaintext: PipelineRun;
  curve: PipelineRun;
  transport: TransportCost;
  /** CURVE's extra CPU per frame, sender and receiver together, from the socket-path rounds. */
  extraCpuMsPerFrame: number;
  /** The target for that extra CPU. */
  targetMs: number;
}

export const CURVE_TARGET_MS = 0.5;

function cpuBothEnds(run: PipelineRun): number {
  return run.sender.usage.cpuMsPerFrame + run.receiver.usage.cpuMsPerFrame;
}

export async function measureCurveCost(clip: Clip, seconds: number, settings: RunSettings, rounds: { messages: number; rounds: number }): Promise<CurveCost> {
  const common = { ...settings, clip, transport: 'tcp' as const, fps: CAMERA_FPS, warmupFrames: CAMERA_FPS, frames: Math.max(1, Math.round(seconds * CAMERA_FPS)) };
  const plaintext = await runPipeline({ ...common, label: `${sizeName(clip)}-plaintext` });
  const server = generateKeyPair();
  const client = generateKeyPair();
  const curve = await runPipeline({
    ...common,
    label: `${sizeName(clip)}-curve`,
    curve: { sender: { key: server, allow: [client.publicKey] }, receiver: { key: client, serverKey: server.publicKey } },
  });
  const transport = await measureCurveTransport(rounds.messages, rounds.rounds);
  const extra = transport.curveCpuMs - transport.plaintextCpuMs;
  return { plaintext, curve, transport, extraCpuMsPerFrame: Math.round(extra * 1000) / 1000, targetMs: CURVE_TARGET_MS };
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
  const t = cost.transport;
  const verdict = cost.extraCpuMsPerFrame <= cost.targetMs ? 'meets' : 'misses';
  return (
    table(['mode', 'size', 'frames', 'sender CPU ms/frame', 'receiver CPU ms/frame', 'both ms/frame', 'p50 ms', 'p99 ms', 'dropped', 'CPU used by others'], rows) +
    `\n\nSocket path alone: ${t.messageBytes / 1000} kB messages, one in flight, tcp loopback, ${t.rounds} alternating rounds of ${t.messagesPerRound}\n` +
    table(
      ['mode', 'CPU ms/message, both ends', 'p50 send to receive ms'],
      [
        ['plaintext', t.plaintextCpuMs.toFixed(3), f2(t.plaintextP50Ms)],
        ['CURVE', t.curveCpuMs.toFixed(3), f2(t.curveP50Ms)],
      ],
    ) +
    `\nCURVE adds ${cost.extraCpuMsPerFrame.toFixed(3)} ms CPU per frame for both ends together: ${verdict} the target of at most ${f2(cost.targetMs)} ms.`
  );
}
