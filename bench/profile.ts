import { readdir, readFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';

/** The parts of a V8 .cpuprofile (node --cpu-prof) this summary reads. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** Function name and where it is defined; (garbage collector), (program) and (idle) are V8's own. */
  name: string;
  ms: number;
  /** Share of the time the main thread was busy (not idle). */
  percentOfBusy: number;
}

export interface ProfileSummary {
  file: string;
  /** Main-thread time busy (not idle), ms, and the time profiled. */
  busyMs: number;
  totalMs: number;
  top: SelfTime[];
}

const ROOT = join(__dirname, '..', '..');

function where(frame: CpuProfile['nodes'][number]['callFrame']): string {
  const name = frame.functionName || '(anonymous)';
  if (!frame.url) return name;
  const path = frame.url.replace(/^file:\/\//, '');
  const short = path.includes('node_modules') ? path.slice(path.lastIndexOf('node_modules') + 13) : relative(ROOT, path);
  return `${name} ${short}:${frame.lineNumber + 1}`;
}

/**
 * Self time per function from a V8 CPU profile: where the main thread spent its time. Work that
 * sharp and OpenCV run on libuv's pool does not appear here (the main thread is idle meanwhile);
 * only what runs on the main thread does.
 */
export async function summariseProfile(path: string, top = 12): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const nameOf = new Map(profile.nodes.map((n) => [n.id, where(n.callFrame)]));
  const self = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    totalUs += us;
    const name = nameOf.get(id) ?? '(unknown)';
    self.set(name, (self.get(name) ?? 0) + us);
  });
  const busyUs = totalUs - (self.get('(idle)') ?? 0);
  const ranked = [...self]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percentOfBusy: Math.round((us / Math.max(1, busyUs)) * 1000) / 10 }));
  return { file: basename(path), busyMs: Math.round(busyUs / 1000), totalMs: Math.round(totalUs / 1000), top: ranked };
}

export async function summariseProfiles(dir: string): Promise<ProfileSummary[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.cpuprofile')).sort();
  return Promise.all(files.map((f) => summariseProfile(join(dir, f))));
}
