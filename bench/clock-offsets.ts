import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IndexEntry } from '../common/wire/recording-index';
import { freeTcpPort } from '../test/helpers/endpoints';
import { table } from './markdown-table';

/** Debian's libfaketime (apt package faketime; scripts/setup.sh installs it). */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
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

const fake = (spec: string): NodeJS.ProcessEnv => ({ ...process.env, LD_PRELOAD: LIBFAKETIME, FAKETIME: spec, DONT_FAKE_MONOTONIC: '1' });

function run(program: 'sender' | 'receiver' | 'hub', args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  return spawn(process.execPath, [join(DIST, program, 'cli.js'), ...args], { env, stdio: ['ignore', 'ignore', 'ignore'] });
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

/** `npm run bench -- --clock`: the error of corrected latency against a same-clock stream, on loopback, and the time to converge. */
export async function measureClockOffsets(seconds: number, progress: (message: string) => void): Promise<ClockRun[]> {
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
  return runs;
}

export function renderClockReport(runs: readonly ClockRun[]): string {
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
  ].join('\n');
}
