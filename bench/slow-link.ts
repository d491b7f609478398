import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgumentError } from 'commander';
import { CliProcess } from '../test/helpers/cli-process';
import { ShapedLink } from '../test/helpers/shaped-link';
import type { Clip } from './clip';

/** One rate for tc tbf, e.g. 8mbit or 500kbit. */
export interface LinkRate {
  label: string;
  bitsPerSecond: number;
}

export interface SlowLinkRun {
  rate: string;
  adapt: boolean;
  /** Through a zerocam-hub (default settings): the viewer across the shaped link, or one beside the hub on loopback. */
  hubViewer?: 'slow' | 'fast';
  fps: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** JPEG bytes per second received, against the link's rate. */
  deliveredBitsPerSecond: number;
  linkShare: number;
  meanFrameBytes: number;
  /** One frame's transmit time at the link's rate plus the sender's encode: the physical limit. */
  physicalLimitMs: number;
  /** The issue's bound: two frames' transmit time plus the encode (the round trip is ~0 on a veth). */
  boundMs: number;
  /**
   * Mean ping round trip from the receiver's end across the link: idle, before the stream, and
   * loaded, while it runs (the replies queue in tbf behind the frames). Absent without ping.
   */
  rttMs: { idle?: number; loaded?: number };
  /** boundMs with the loaded round trip added: the issue's bound, RTT and all. */
  boundLoadedMs?: number;
  /** What the sender said at the end: its link summary and, with --adapt, its quality and scale. */
  senderDeliveredFps: number;
  quality: number;
  scale: number;
}

export function parseLinkRates(value: string): LinkRate[] {
  return value.split(',').map((item) => {
    const match = /^(\d+(?:\.\d+)?)(kbit|mbit|gbit)$/.exec(item.trim().toLowerCase());
    if (!match) throw new InvalidArgumentError(`expected tc rates such as 8mbit or 500kbit, comma-separated (got "${item}")`);
    const unit = { kbit: 1e3, mbit: 1e6, gbit: 1e9 }[match[2] as 'kbit' | 'mbit' | 'gbit'];
    return { label: `${match[1]}${match[2]}`, bitsPerSecond: Number(match[1]) * unit };
  });
}

interface Summary {
  frames?: number;
  fps?: number;
  bytes?: number;
  latencyMs?: { p50: number; p95: number; p99: number };
  encodeMs?: { mean: number };
  link?: { deliveredFps: number };
  adapt?: { quality: number; scale: number };
}

const IDLE_PINGS = 5;
const PING_INTERVAL_S = 0.2;

/** Mean round trip (ms) of `count` pings from the receiver's end to the sender's, or undefined without ping. */
async function pingMs(link: ShapedLink, count: number): Promise<number | undefined> {
  const [command, ...args] = [...link.launcher('receiver'), 'ping', '-n', '-q', '-c', String(count), '-i', String(PING_INTERVAL_S), link.senderAddress];
  try {
    const { stdout } = await promisify(execFile)(command, args);
    const mean = /= [\d.]+\/([\d.]+)\//.exec(stdout)?.[1];
    return mean === undefined ? undefined : Math.round(Number(mean) * 10) / 10;
  } catch {
    return undefined;
  }
}

/** Pings across the link from the moment frames flow (the sender is watched) until a second before the run ends. */
async function pingWhileStreaming(link: ShapedLink, sender: CliProcess, seconds: number): Promise<number | undefined> {
  await sender.waitForJson('stderr', (r) => r.event === 'watched');
  return pingMs(link, Math.max(IDLE_PINGS, Math.floor((seconds - 2) / PING_INTERVAL_S)));
}

/**
 * The camera-like clip at 30 fps from a sender in one network namespace to a receiver in another,
 * over a veth whose sender side tbf limits to `rate`: what arrives, how late, and how much of the link
 * it used, beside the physical limit. Needs root (network namespaces).
 */
export async function measureSlowLink(clip: Clip, rate: LinkRate, adapt: boolean, seconds: number): Promise<SlowLinkRun> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-link-'));
  const link = ShapedLink.create(rate.label);
  const processes: CliProcess[] = [];
  try {
    const senderStats = join(dir, 'sender.json');
    const receiverStats = join(dir, 'receiver.json');
    const sender = new CliProcess(
      'sender',
      ['--bind', `tcp://${link.senderAddress}:*`, '--source', `file:${clip.path}`, '--loop', '--fps', '30', '--topic', 'bench', '--no-stats', '--stats-json', senderStats, ...(adapt ? ['--adapt'] : [])],
      {},
      undefined,
      link.launcher('sender'),
    );
    processes.push(sender);
    const endpoint = await sender.ready();
    const idle = await pingMs(link, IDLE_PINGS);
    const receiver = new CliProcess('receiver', ['--connect', endpoint, '--no-stats', '--duration', String(seconds), '--stats-json', receiverStats], {}, undefined, link.launcher('receiver'));
    processes.push(receiver);
    const loaded = pingWhileStreaming(link, sender, seconds);
    await receiver.exited;
    sender.kill('SIGINT');
    await sender.exited;
    const received = JSON.parse(await readFile(receiverStats, 'utf8')) as Summary;
    const sent = JSON.parse(await readFile(senderStats, 'utf8')) as Summary;
    return summariseRun(received, sent, rate, adapt, seconds, { idle, loaded: await loaded });
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    link.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

/** What one receiver got over `seconds`, beside the physical limit and the bound at `rate`. */
function summariseRun(received: Summary, sent: Summary, rate: LinkRate, adapt: boolean, seconds: number, rttMs: SlowLinkRun['rttMs']): SlowLinkRun {
  const frames = received.frames ?? 0;
  const meanFrameBytes = frames ? (received.bytes ?? 0) / frames : 0;
  const deliveredBitsPerSecond = (frames > 1 ? (received.bytes ?? 0) / seconds : 0) * 8;
  const transmitMs = ((meanFrameBytes * 8) / rate.bitsPerSecond) * 1000;
  const encodeMs = sent.encodeMs?.mean ?? 0;
  return {
    rate: rate.label,
    adapt,
    fps: received.fps ?? 0,
    latencyMs: received.latencyMs ?? { p50: 0, p95: 0, p99: 0 },
    deliveredBitsPerSecond: Math.round(deliveredBitsPerSecond),
    linkShare: Math.round((deliveredBitsPerSecond / rate.bitsPerSecond) * 1000) / 1000,
    meanFrameBytes: Math.round(meanFrameBytes),
    physicalLimitMs: Math.round(transmitMs + encodeMs),
    boundMs: Math.round(2 * transmitMs + encodeMs),
    rttMs,
    ...(rttMs.loaded !== undefined && { boundLoadedMs: Math.round(2 * transmitMs + encodeMs + rttMs.loaded) }),
    senderDeliveredFps: sent.link?.deliveredFps ?? 0,
    quality: sent.adapt?.quality ?? 80,
    scale: sent.adapt?.scale ?? 1,
  };
}

/**
 * The same clip and link with a zerocam-hub (default settings) in the sender's namespace: the camera
 * connects to it on loopback, one viewer is across the shaped link and one beside the hub, unshaped.
 * The slow viewer's lag should match the direct run's, and the fast viewer should get every frame.
 */
export async function measureSlowLinkThroughHub(clip: Clip, rate: LinkRate, seconds: number): Promise<SlowLinkRun[]> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-link-hub-'));
  const link = ShapedLink.create(rate.label);
  const processes: CliProcess[] = [];
  const start = (name: 'sender' | 'receiver' | 'hub', args: readonly string[], end: 'sender' | 'receiver'): CliProcess => {
    const child = new CliProcess(name, args, {}, undefined, link.launcher(end));
    processes.push(child);
    return child;
  };
  try {
    const hub = start('hub', ['--senders', 'tcp://127.0.0.1:*', '--receivers', `tcp://${link.senderAddress}:*`, '--no-stats'], 'sender');
    const forwarding = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
    const idle = await pingMs(link, IDLE_PINGS);
    const senderStats = join(dir, 'sender.json');
    const sender = start(
      'sender',
      ['--connect', String(forwarding.senders), '--source', `file:${clip.path}`, '--loop', '--fps', '30', '--topic', 'bench', '--no-stats', '--stats-json', senderStats],
      'sender',
    );
    const viewers = (['slow', 'fast'] as const).map((viewer) => {
      const stats = join(dir, `${viewer}.json`);
      const child = start('receiver', ['--connect', String(forwarding.receivers), '--no-stats', '--duration', String(seconds), '--stats-json', stats], viewer === 'slow' ? 'receiver' : 'sender');
      return { viewer, stats, child };
    });
    const loaded = pingWhileStreaming(link, sender, seconds);
    await Promise.all(viewers.map((v) => v.child.exited));
    const rttMs = { idle, loaded: await loaded };
    sender.kill('SIGINT');
    await sender.exited;
    const sent = JSON.parse(await readFile(senderStats, 'utf8')) as Summary;
    return await Promise.all(
      viewers.map(async ({ viewer, stats }) => ({ ...summariseRun(JSON.parse(await readFile(stats, 'utf8')) as Summary, sent, rate, false, seconds, rttMs), hubViewer: viewer })),
    );
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    link.remove();
    await rm(dir, { recursive: true, force: true });
  }
}

const formatRtt = (ms: number | undefined): string => (ms === undefined ? 'n/a' : ms.toFixed(1));

export function renderSlowLinkReport(runs: readonly SlowLinkRun[]): string {
  const rows = runs.map((r) =>
    [
      r.rate,
      r.hubViewer ? `hub, ${r.hubViewer} viewer` : r.adapt ? '--adapt' : 'default',
      r.fps.toFixed(1),
      `${r.latencyMs.p50.toFixed(0)} / ${r.latencyMs.p95.toFixed(0)} / ${r.latencyMs.p99.toFixed(0)}`,
      `${(r.deliveredBitsPerSecond / 1e6).toFixed(2)} Mbit/s (${r.hubViewer === 'fast' ? 'loopback' : `${(r.linkShare * 100).toFixed(0)}%`})`,
      `${(r.meanFrameBytes / 1024).toFixed(0)} KiB`,
      r.hubViewer === 'fast' ? '-' : `${r.physicalLimitMs} / ${r.boundMs}`,
      `${formatRtt(r.rttMs.idle)} / ${formatRtt(r.rttMs.loaded)}`,
      r.hubViewer === 'fast' || r.boundLoadedMs === undefined ? '-' : String(r.boundLoadedMs),
      `q${r.quality}${r.scale < 1 ? ` ×${r.scale}` : ''}`,
    ].join(' | '),
  );
  return [
    'Slow link: camera-like 720p30 over a tbf-shaped veth between two network namespaces',
    'link | sender | fps | capture-to-receive p50 / p95 / p99 ms | delivered (of link) | frame | limit / bound ms | RTT idle / loaded ms | bound + loaded RTT ms | quality at end',
    ...rows,
    'limit: one frame\'s transmit time at the link rate + encode; bound: two frames\' + encode (veth round trip ~0).',
    'RTT: mean ping from the receiver across the link, before the stream (idle) and while it runs (loaded: replies queue in tbf behind frames).',
    'hub: the camera connects to a zerocam-hub (default --hwm auto) beside it; the slow viewer is across the link, the fast one beside the hub.',
    '',
  ].join('\n');
}
