import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** Busy CPU time of the whole machine, and of the given processes (every thread), in clock ticks. */
function ticks(pids: readonly number[]): { machine: number; ours: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
    const machine = cpu.slice(0, 8).reduce((sum, t, i) => (i === 3 || i === 4 ? sum : sum + t), 0);
    let ours = 0;
    for (const pid of pids) {
      // The command name may hold spaces; the fields after its closing parenthesis do not. utime and stime are the 12th and 13th of those.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ours += Number(fields[11]) + Number(fields[12]);
    }
    return { machine, ours };
  } catch {
    // Not Linux, or a process already gone.
    return undefined;
  }
}

/**
 * How much of the machine other processes used while the bench measured: the figures of a run
 * that shared its cores with something else are slower, and this says by how much to distrust them.
 */
export class ForeignLoad {
  private readonly started: { machine: number; ours: number; at: number } | undefined;

  constructor(private readonly pids: readonly number[]) {
    const now = ticks(pids);
    this.started = now && { ...now, at: performance.now() };
  }

  /** Per cent of all cores' time used by other processes since construction; null where /proc is not there. */
  percent(): number | null {
    const now = ticks(this.pids);
    if (!now || !this.started) return null;
    const elapsedTicks = ((performance.now() - this.started.at) / 1000) * CLOCK_TICKS_PER_SECOND * availableParallelism();
    const foreign = now.machine - this.started.machine - (now.ours - this.started.ours);
    return Math.max(0, Math.round((foreign / Math.max(1, elapsedTicks)) * 100));
  }
}
