import { DEFAULTS } from '../common/defaults';
import { sizeName, type Clip } from './clip';
import { measureHubCpu } from './hub';
import { measureIndependentCeiling, type LoopsResult } from './independent-ceiling';
import { CAMERA_FPS, measureLatency } from './latency';
import { table } from './markdown-table';
import { runPipeline, type PipelineRun, type RunSettings } from './pipeline';
import { runPythonReference } from './python-reference';
import { cameraPaced, makeMjpegClip } from './reference';
import { checkSpeedTargets, type SpeedMeasures, type SpeedRow } from './targets';
import { runUnthrottled } from './throughput';

/** #20's section of the bench: its measures, and its six rows judged. */
export interface SpeedSection {
  measures: SpeedMeasures;
  rows: SpeedRow[];
}

export interface SpeedInputs {
  /** The clip of the size #20 is judged at (720p unless the run has no 720p). */
  clip: Clip;
  clipDir: string;
  /** Length of each 30 fps run. */
  seconds: number;
  /** Measured frames of each unthrottled run. */
  frames: number;
  /** Length of each hub CPU window. */
  hubSeconds: number;
  /** Length of each imencode ceiling run. */
  ceilingSeconds: number;
  settings: RunSettings;
  progress: (message: string) => void;
  /** Runs the full bench has already made of this size, used as they are rather than repeated. */
  measured?: Partial<Omit<SpeedMeasures, 'size' | 'receiver' | 'unthrottled'>> & { unthrottled?: PipelineRun | undefined };
}

/**
 * Every figure #20 judges, each beside its reference in this run: what the full bench has measured
 * already is reused; the rest (the receivers side by side, the independent ceiling, and in
 * --speed everything) is measured here.
 */
export async function measureSpeed(inputs: SpeedInputs): Promise<SpeedSection> {
  const { clip, seconds, settings, progress } = inputs;
  const size = sizeName(clip);
  const paced = Math.max(1, Math.round(seconds * CAMERA_FPS));
  const known = inputs.measured ?? {};

  let zerocamPaced = known.paced?.zerocam;
  if (!zerocamPaced) {
    progress(`latency ${size} at ${CAMERA_FPS} fps for ${seconds} s`);
    zerocamPaced = await measureLatency(clip, seconds, settings);
  }
  let python = known.paced?.python;
  if (!python) {
    progress(`python reference loop ${size} at ${CAMERA_FPS} fps`);
    python = await runPythonReference(clip, CAMERA_FPS, CAMERA_FPS, paced);
  }
  let passthrough = known.passthrough;
  if (!passthrough) {
    progress(`--passthrough ${size} MJPEG at ${CAMERA_FPS} fps`);
    const mjpeg = await makeMjpegClip(inputs.clipDir, clip);
    passthrough = { passthrough: await cameraPaced(mjpeg, seconds, settings, `${size}-passthrough`, { passthrough: true }), encoding: zerocamPaced };
  }
  progress(`receivers side by side, zerocam's and pyzmq's, ${size} at ${CAMERA_FPS} fps for ${seconds} s`);
  const receiverPaced = await runPipeline({ ...settings, clip, transport: 'tcp', fps: CAMERA_FPS, warmupFrames: CAMERA_FPS, frames: paced, label: `${size}-${CAMERA_FPS}fps-pyzmq`, pythonReceiver: true });
  progress(`receivers side by side, ${size} unthrottled, ${inputs.frames} frames`);
  const receiverUnthrottled = await runUnthrottled(clip, 'tcp', inputs.frames, settings, true);
  let unthrottled = known.unthrottled;
  if (!unthrottled) {
    progress(`unthrottled ${size} tcp, ${inputs.frames} frames`);
    unthrottled = await runUnthrottled(clip, 'tcp', inputs.frames, settings);
  }
  progress(`imencode ceiling ${size}: 1 process, then one per core, Node then Python, ${inputs.ceilingSeconds} s each`);
  const ceiling = await measureIndependentCeiling(clip, inputs.ceilingSeconds);
  const hub = known.hub ?? (await measureHubCpu(inputs.hubSeconds, progress));

  const measures: SpeedMeasures = {
    size: zerocamPaced.size,
    paced: { zerocam: zerocamPaced, python },
    passthrough,
    receiver: { paced: receiverPaced, unthrottled: receiverUnthrottled },
    hub,
    unthrottled: { zerocam: unthrottled, ceiling },
  };
  return { measures, rows: checkSpeedTargets(measures) };
}

const f2 = (x: number): string => x.toFixed(2);
const f3 = (x: number): string => x.toFixed(3);
const others = (percent: number | null): string => (percent === null ? '?' : `${percent}%`);
const ratio = (ours: number, theirs: number): string => (theirs > 0 ? f2(ours / theirs) : '-');

export function renderSpeed({ measures: m, rows }: SpeedSection): string {
  const targets = table(
    ['measure', 'zerocam', 'reference', 'ratio', 'target', 'met', 'CPU used by others'],
    rows.map((r) => [r.measure, r.measured, r.reference, r.ratio, r.target, r.met === null ? '-' : r.met ? 'yes' : 'NO', others(r.otherProcessesPercent)]),
  );
  const receivers = table(
    ['pace', 'zerocam frames (dropped)', 'pyzmq frames (dropped)', 'zerocam CPU ms/frame', 'pyzmq CPU ms/frame', 'ratio', 'sender CPU ms/frame', 'CPU used by others'],
    ([['30 fps', m.receiver.paced], ['unthrottled', m.receiver.unthrottled]] as const).map(([pace, run]) => [
      pace,
      `${run.receiver.usage.frames} (${run.receiver.dropped})`,
      run.pythonReceiver ? `${run.pythonReceiver.measuredFrames} (${run.pythonReceiver.dropped})` : '-',
      f3(run.receiver.usage.cpuMsPerFrame),
      run.pythonReceiver ? f3(run.pythonReceiver.cpuMsPerFrame) : '-',
      ratio(run.receiver.usage.cpuMsPerFrame, run.pythonReceiver?.cpuMsPerFrame ?? 0),
      f2(run.sender.usage.cpuMsPerFrame),
      others(run.otherProcessesPercent),
    ]),
  );
  const c = m.unthrottled.ceiling;
  // Wall-clock fps moves with whatever else shares the cores; CPU per encode does not, so what it allows is shown beside.
  const loopRow = (what: string, loops: LoopsResult): (string | number)[] => [
    what,
    loops.processes,
    loops.fps,
    f3(loops.cpuMsPerFrame),
    loops.cpuMsPerFrame > 0 ? Math.round((loops.processes * 1000) / loops.cpuMsPerFrame) : '-',
    (loops.meanBytes / 1e3).toFixed(0),
    f2(m.unthrottled.zerocam.receiver.fps / Math.max(1, loops.fps)),
    others(loops.otherProcessesPercent),
  ];
  const ceiling = table(
    ['imencode loops, single-threaded', 'processes', 'fps (summed)', 'CPU ms/frame', 'fps that CPU allows (processes x 1000 / CPU ms)', 'kB', `zerocam ${f2(m.unthrottled.zerocam.receiver.fps)} fps / fps`, 'CPU used by others'],
    [loopRow('Node, cv.imencode (the addon), alone', c.nodeOne), loopRow('Node, one per core', c.node), loopRow("Python cv2, one per core", c.python)],
  );
  const hub = table(
    ['hub', '1 receiver CPU ms/frame', '4 receivers', 'CPU used by others'],
    [
      ['zerocam-hub (validation, last-frame cache)', f3(m.hub.zerocam.oneReceiver), f3(m.hub.zerocam.fourReceivers), others(m.hub.zerocam.otherProcessesPercent)],
      ['Python zmq.proxy(XSUB, XPUB)', f3(m.hub.pythonProxy.oneReceiver), f3(m.hub.pythonProxy.fourReceivers), others(m.hub.pythonProxy.otherProcessesPercent)],
    ],
  );
  return [
    `Speed III (#20): each figure against its reference, measured in this run (${sizeName(m.size)})\n${targets}`,
    `Receivers side by side on one sender: zerocam's (bench/receiver-worker.ts) and a pyzmq SUB loop with the same validation (bench/python-receiver.py)\n${receivers}`,
    `The ceiling: imencode at quality ${DEFAULTS.quality} on the bench clip's frames, ${c.seconds} s, processes started together\n${ceiling}`,
    `Hub CPU per forwarded frame, 4 cameras at 720p${CAMERA_FPS}, against the Python proxy\n${hub}`,
  ].join('\n\n');
}
