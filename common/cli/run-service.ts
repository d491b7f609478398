import { DEFAULTS } from '../defaults';
import { StatsReporter } from '../stats/stats-reporter';
import { writeSummaryFile } from '../stats/write-summary';
import { HealthFile } from './health-file';

/** The flags every long-running program has: --no-stats, --health-file, --stats-json. */
export interface ServiceFlags {
  stats: boolean;
  healthFile?: string | undefined;
  statsJson?: string | undefined;
}

/** One long-running program's core, as its main function opened it. */
export interface Service<S extends object> {
  /** The stats now (`final` false: windowed rates) or at exit. */
  summary(final: boolean): S;
  /** The live stats as one terminal line. */
  liveLine(summary: S): string;
  /** The live stats as a JSON line, when piped; default the summary. A program with many streams lists the busiest. */
  jsonRecord?(summary: S): object;
  /** Runs until the work is done or the program is stopped. */
  run(): Promise<void>;
  /** Frees every resource; runs in a finally, once `run` has settled. */
  close(): void | Promise<void>;
}

/**
 * What every long-running zerocam program does around its own work: live stats once a second (a
 * line on a terminal, JSON when piped), a health file while it runs, everything closed in a
 * finally, and --stats-json written at exit. Returns the final summary, for the last log line.
 */
export async function runService<S extends object>(name: string, flags: ServiceFlags, service: Service<S>): Promise<S> {
  const reporter = new StatsReporter(process.stdout, DEFAULTS.statsIntervalMs, () => {
    const record = service.summary(false);
    return { record: service.jsonRecord ? service.jsonRecord(record) : record, line: service.liveLine(record) };
  });
  const health = HealthFile.start(flags.healthFile, name);
  try {
    if (flags.stats) reporter.start();
    await service.run();
  } finally {
    health?.close();
    reporter.close();
    await service.close();
  }
  const final = service.summary(true);
  if (flags.statsJson) await writeSummaryFile(flags.statsJson, final);
  return final;
}
