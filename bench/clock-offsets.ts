import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IndexEntry } from '../common/wire/recording-index';
import { CliProcess, nodeCommand } from '../test/helpers/cli-process';
import { freeTcpPort } from '../test/helpers/endpoints';
import { fakeClock, LIBFAKETIME } from '../test/helpers/fake-clock';
import { ShapedLink, shapedLinksUnavailable } from '../test/helpers/shaped-link';
import { makeClip } from './clip';
import { table } from './markdown-table';

const DIST = join(__dirname, '..');
const SIZE = ['--width', '1280', '--height', '720', '--fps', '30'];

/** One scenario: a stream from a camera with a false clock beside one with a true clock, into the same receiver. */
export interface ClockRun {
  label: string;
  /** The fake camera's clock minus the receiver's, ms: what the estimate should find. */
  trueOffsetMs: number;
  offsetMs: number | null;
  uncertaintyMs: number | null;
  /** |offsetMs − trueOffsetMs|. */
  offsetErrorMs: number | null;
  /** Corrected p50 of the fake camera's stream and p50 of the true one, ms, over the run. */
  p50Ms: number;
  sameClockP50Ms: number;
  /** |p50Ms − sameClockP50Ms|: the error the target is about (≤ 0.5 ms on loopback). */
  p50ErrorMs: number;
  /** From the fake stream's first frame to its first corrected one, at the receiver, ms. */
  convergeMs: number | null;
  frames: number;
}

interface StreamSummary {
  frames: number;
  latencyMs: { p50: number };
  clockOffsetMs: number | null;
  clockUncertaintyMs: number | null;
}

const fake = (spec: string): NodeJS.ProcessEnv => ({ ...process.env, ...fakeClock(spec) });

function run(program: 'sender' | 'receiver' | 'hub', args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const [node, ...script] = nodeCommand(join(DIST, program, 'cli.js'));
  return spawn(node, [...script, ...args], { env, stdio: ['ignore', 'ignore', 'ignore'] });
}

async function stop(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
}

/**
 * Cameras `fake` (clock `fakeSpec`) and `truth` into a receiver with clock `receiverSpec`, directly
 * (pub, req) or through a hub on the true clock; the receiver records for `seconds` and writes its
 * summary and index.
 */
async function measure(label: string, how: 'pub' | 'req' | 'hub', fakeSpec: string, receiverSpec: string | undefined, trueOffsetMs: number, seconds: number): Promise<ClockRun> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-clock-'));
  const children: ChildProcess[] = [];
  try {
    const statsFile = join(dir, 'stats.json');
    const receiverArgs = ['--out', join(dir, 'rec'), '--no-fsync', '--stats-json', statsFile, '--no-stats', '--duration', String(seconds)];
    const receiverEnv = receiverSpec ? fake(receiverSpec) : process.env;
    let receiver: ChildProcess;
    if (how === 'req') {
      const port = await freeTcpPort();
      receiver = run('receiver', ['--pattern', 'rep', '--bind', `tcp://127.0.0.1:${port}`, ...receiverArgs], receiverEnv);
      children.push(run('sender', ['--pattern', 'req', '--connect', `tcp://127.0.0.1:${port}`, '--topic', 'fake', ...SIZE, '--no-stats'], fake(fakeSpec)));
      children.push(run('sender', ['--pattern', 'req', '--connect', `tcp://127.0.0.1:${port}`, '--topic', 'truth', ...SIZE, '--no-stats']));
    } else if (how === 'pub') {
      const [a, b] = [await freeTcpPort(), await freeTcpPort()];
      children.push(run('sender', ['--bind', `tcp://127.0.0.1:${a}`, '--topic', 'fake', ...SIZE, '--no-stats'], fake(fakeSpec)));
      children.push(run('sender', ['--bind', `tcp://127.0.0.1:${b}`, '--topic', 'truth', ...SIZE, '--no-stats']));
      receiver = run('receiver', ['--connect', `tcp://127.0.0.1:${a},tcp://127.0.0.1:${b}`, ...receiverArgs], receiverEnv);
    } else {
      const [senders, receivers] = [await freeTcpPort(), await freeTcpPort()];
      children.push(run('hub', ['--senders', `tcp://127.0.0.1:${senders}`, '--receivers', `tcp://127.0.0.1:${receivers}`]));
      children.push(run('sender', ['--connect', `tcp://127.0.0.1:${senders}`, '--topic', 'fake', ...SIZE, '--no-stats'], fake(fakeSpec)));
      children.push(run('sender', ['--connect', `tcp://127.0.0.1:${senders}`, '--topic', 'truth', ...SIZE, '--no-stats']));
      receiver = run('receiver', ['--connect', `tcp://127.0.0.1:${receivers}`, ...receiverArgs], receiverEnv);
    }
    children.push(receiver);
    await new Promise((resolve) => receiver.once('exit', resolve));
    const stats = JSON.parse(await readFile(statsFile, 'utf8')) as { streams: Record<string, StreamSummary> };
    const f = stats.streams.fake;
    const s = stats.streams.truth;
    if (!f || !s) throw new Error(`${label}: the receiver got no frames of both streams`);
    const index = (await readFile(join(dir, 'rec', 'index.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as IndexEntry)
      .filter((entry) => entry.topic === 'fake');
    const firstCorrected = index.find((entry) => entry.latencyCorrected === true);
    return {
      label,
      trueOffsetMs,
      offsetMs: f.clockOffsetMs,
      uncertaintyMs: f.clockUncertaintyMs,
      offsetErrorMs: f.clockOffsetMs === null ? null : Math.round(Math.abs(f.clockOffsetMs - trueOffsetMs) * 1000) / 1000,
      p50Ms: f.latencyMs.p50,
      sameClockP50Ms: s.latencyMs.p50,
      p50ErrorMs: Math.round(Math.abs(f.latencyMs.p50 - s.latencyMs.p50) * 1000) / 1000,
      convergeMs: firstCorrected && index[0] ? Math.round((firstCorrected.receiveUs - index[0].receiveUs) / 1000) : null,
      frames: f.frames,
    };
  } finally {
    await stop(children);
    await rm(dir, { recursive: true, force: true });
  }
}

/** One camera, its clock +2 s, over a tbf-shaped 10 Mbit/s link to a receiver on the true clock. */
export interface ShapedClockRun {
  label: string;
  seconds: number;
  /** The receiver's summary at exit: the estimate then, and what it was off by. */
  offsetMs: number | null;
  uncertaintyMs: number | null;
  offsetErrorMs: number | null;
  /** Over the run's corrected frames: p50 of |estimate used − true offset|, and the largest. */
  p50OffsetErrorMs: number | null;
  maxOffsetErrorMs: number | null;
  /** Corrected frames whose offset lay outside their own reported uncertainty (should be 0). */
  outsideUncertainty: number;
  /** |corrected latency p50 − true latency p50| over the corrected frames of the run's second half (--adapt settles in the first). */
  p50ErrorMs: number | null;
  /** From the first frame to the first corrected one, and to the first after which every frame's offset error is ≤ 2 ms. */
  convergeMs: number | null;
  within2MsFromMs: number | null;
  frames: number;
  correctedFrames: number;
  meanFrameBytes: number;
}

const SHAPED_RATE = '10mbit';
const SHAPED_OFFSET_US = 2_000_000;

const median = (values: number[]): number | null => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
};
const roundMs = (us: number | null): number | null => (us === null ? null : Math.round(us) / 1000);

async function measureShaped(label: string, source: string[], seconds: number): Promise<ShapedClockRun> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-clock-link-'));
  const link = ShapedLink.create(SHAPED_RATE);
  const processes: CliProcess[] = [];
  try {
    const statsFile = join(dir, 'stats.json');
    const sender = new CliProcess('sender', ['--bind', `tcp://${link.senderAddress}:*`, '--topic', 'cam', ...source, '--no-stats'], fake('+2s'), undefined, link.launcher('sender'));
    processes.push(sender);
    const receiver = new CliProcess(
      'receiver',
      ['--connect', await sender.ready(), '--out', join(dir, 'rec'), '--no-fsync', '--stats-json', statsFile, '--no-stats', '--duration', String(seconds)],
      {},
      undefined,
      link.launcher('receiver'),
    );
    processes.push(receiver);
    await receiver.exited;
    const stats = JSON.parse(await readFile(statsFile, 'utf8')) as { streams: Record<string, StreamSummary> };
    const cam = stats.streams.cam;
    if (!cam) throw new Error(`${label}: the receiver got no frames`);
    const index = (await readFile(join(dir, 'rec', 'index.jsonl'), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as IndexEntry);
    const corrected = index.filter((e) => e.latencyCorrected === true && e.clockOffsetUs !== undefined && e.clockUncertaintyUs !== undefined);
    const errorUs = (e: IndexEntry): number => Math.abs(e.clockOffsetUs! - SHAPED_OFFSET_US);
    const errors = corrected.map(errorUs);
    const lastOver2Ms = corrected.findLastIndex((e) => errorUs(e) > 2000);
    const settled = corrected[lastOver2Ms + 1];
    const first = index[0];
    const secondHalf = first ? corrected.filter((e) => e.receiveUs - first.receiveUs >= (seconds * 1e6) / 2) : [];
    const correctedP50 = median(secondHalf.map((e) => e.latencyUs!));
    const trueP50 = median(secondHalf.map((e) => e.receiveUs - e.captureUs + SHAPED_OFFSET_US));
    return {
      label,
      seconds,
      offsetMs: cam.clockOffsetMs,
      uncertaintyMs: cam.clockUncertaintyMs,
      offsetErrorMs: cam.clockOffsetMs === null ? null : Math.round(Math.abs(cam.clockOffsetMs - SHAPED_OFFSET_US / 1000) * 1000) / 1000,
      p50OffsetErrorMs: roundMs(median(errors)),
      maxOffsetErrorMs: roundMs(errors.length > 0 ? Math.max(...errors) : null),
      outsideUncertainty: corrected.filter((e) => errorUs(e) > e.clockUncertaintyUs! + 1).length,
      p50ErrorMs: correctedP50 === null || trueP50 === null ? null : roundMs(Math.abs(correctedP50 - trueP50)),
      convergeMs: corrected[0] && first ? Math.round((corrected[0].receiveUs - first.receiveUs) / 1000) : null,
      within2MsFromMs: settled && first ? Math.round((settled.receiveUs - first.receiveUs) / 1000) : null,
      frames: index.length,
      correctedFrames: corrected.length,
      meanFrameBytes: index.length > 0 ? Math.round(index.reduce((sum, e) => sum + e.bytes, 0) / index.length) : 0,
    };
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    link.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

export interface ClockReport {
  loopback: ClockRun[];
  shaped: ShapedClockRun[];
  /** Why the shaped-link scenarios did not run (no root, no iproute2), if they did not. */
  shapedSkipped?: string;
}

/**
 * `npm run bench -- --clock`: the error of corrected latency against a same-clock stream, on
 * loopback, and the time to converge; then one camera over a shaped 10 Mbit/s link, with the test
 * pattern (room to spare), the camera-like clip (more than the link carries) and the clip with --adapt.
 */
export async function measureClockOffsets(seconds: number, progress: (message: string) => void): Promise<ClockReport> {
  if (!existsSync(LIBFAKETIME)) throw new Error(`--clock needs ${LIBFAKETIME} (apt-get install faketime)`);
  const scenarios: Array<[string, 'pub' | 'req' | 'hub', string, string | undefined, number]> = [
    ['PUB → SUB, camera +2 s', 'pub', '+2s', undefined, 2000],
    ['REQ → REP, camera −1.5 s', 'req', '-1.5s', undefined, -1500],
    ['camera +2 s → hub → viewer −1 s', 'hub', '+2s', '-1s', 3000],
  ];
  const runs: ClockRun[] = [];
  for (const [label, how, fakeSpec, receiverSpec, trueOffsetMs] of scenarios) {
    progress(`clock offsets: ${label}, 720p30 beside a camera on the true clock, ${seconds} s`);
    runs.push(await measure(label, how, fakeSpec, receiverSpec, trueOffsetMs, seconds));
  }
  const report: ClockReport = { loopback: runs, shaped: [] };
  const unavailable = shapedLinksUnavailable();
  if (unavailable) {
    report.shapedSkipped = unavailable;
    return report;
  }
  const clipDir = await mkdtemp(join(tmpdir(), 'zc-bench-clock-clip-'));
  try {
    const clip = await makeClip(clipDir, { width: 1280, height: 720 });
    const clipSource = ['--source', `file:${clip.path}`, '--loop', '--fps', '30'];
    // --adapt needs a few seconds to find its quality, and the estimate then an exchange on a quiet link.
    const shaped: Array<[string, string[], number]> = [
      ['test pattern 720p30 (fits the link)', ['--width', '1280', '--height', '720', '--fps', '30'], seconds],
      ['camera-like clip 720p30 q80 (3x the link)', clipSource, seconds],
      ['camera-like clip 720p30, --adapt', [...clipSource, '--adapt'], Math.max(seconds, 20)],
    ];
    for (const [label, source, runSeconds] of shaped) {
      progress(`clock offsets over a tbf-shaped ${SHAPED_RATE} link: ${label}, camera +2 s, ${runSeconds} s`);
      report.shaped.push(await measureShaped(label, source, runSeconds));
    }
  } finally {
    await rm(clipDir, { recursive: true, force: true });
  }
  return report;
}

export function renderClockReport({ loopback: runs, shaped, shapedSkipped }: ClockReport): string {
  const ms = (x: number | null): string => (x === null ? '–' : x.toFixed(3));
  return [
    '## Clock offsets (loopback, libfaketime)',
    '',
    'Two 720p30 cameras into one receiver: one with its clock offset, one on the true clock. p50 error = |corrected p50 − same-clock p50| (target ≤ 0.5 ms on loopback); offset error against the offset libfaketime set; converged = first frame to first corrected frame (target ≤ 2000 ms).',
    '',
    table(
      ['scenario', 'true offset ms', 'measured ms', '± ms', 'offset error ms', 'p50 ms', 'same-clock p50 ms', 'p50 error ms', 'converged ms', 'frames'],
      runs.map((r) => [r.label, String(r.trueOffsetMs), ms(r.offsetMs), ms(r.uncertaintyMs), ms(r.offsetErrorMs), ms(r.p50Ms), ms(r.sameClockP50Ms), ms(r.p50ErrorMs), String(r.convergeMs ?? '–'), String(r.frames)]),
    ),
    '',
    `## Clock offsets over a tbf-shaped ${SHAPED_RATE} link (camera +2 s)`,
    '',
    shapedSkipped
      ? `Not run: ${shapedSkipped}`
      : [
          'One camera with its clock 2 s ahead, one receiver on the true clock. At exit: the estimate, ± its uncertainty, and its error. Over the corrected frames: p50 and max offset error, frames whose error exceeded their own uncertainty; over the second half of the run, |corrected latency p50 − true latency p50| (target ≤ 2 ms); converged = first frame to first corrected one, ≤ 2 ms from = to the first after which every frame is within 2 ms.',
          '',
          table(
            ['scenario', 's', 'frame kB', 'measured ms', '± ms', 'error ms', 'p50 error ms', 'max error ms', 'outside ±', 'latency p50 error ms (2nd half)', 'converged ms', '≤ 2 ms from ms', 'corrected / frames'],
            shaped.map((r) => [
              r.label,
              String(r.seconds),
              (r.meanFrameBytes / 1000).toFixed(1),
              ms(r.offsetMs),
              ms(r.uncertaintyMs),
              ms(r.offsetErrorMs),
              ms(r.p50OffsetErrorMs),
              ms(r.maxOffsetErrorMs),
              String(r.outsideUncertainty),
              ms(r.p50ErrorMs),
              String(r.convergeMs ?? '–'),
              String(r.within2MsFromMs ?? '–'),
              `${r.correctedFrames} / ${r.frames}`,
            ]),
          ),
        ].join('\n'),
    '',
  ].join('\n');
}
