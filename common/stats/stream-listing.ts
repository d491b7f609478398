import { DEFAULTS } from '../defaults';
import type { StreamSummary } from './stream-stats';

type Listed = Pick<StreamSummary, 'fps' | 'lastFrameAgeMs'>;

/** The busiest streams first: by fps, then by the newest frame, then by name. */
export function busiestFirst<T extends Listed>(streams: Record<string, T>): [string, T][] {
  return Object.entries(streams).sort(
    ([a, x], [b, y]) => y.fps - x.fps || (x.lastFrameAgeMs ?? Infinity) - (y.lastFrameAgeMs ?? Infinity) || a.localeCompare(b),
  );
}

/**
 * `record` with `streams` cut down to the `max` busiest, for a live JSON stats line: a hub with
 * thousands of streams must not print megabytes a second. Its streamCount still says how many
 * there are; with `max` or fewer, the record is returned as it is.
 */
export function withBusiestStreams<R extends { streams: Record<string, T> }, T extends Listed>(record: R, max: number = DEFAULTS.statsJsonStreams): R {
  if (Object.keys(record.streams).length <= max) return record;
  return { ...record, streams: Object.fromEntries(busiestFirst(record.streams).slice(0, max)) };
}

/**
 * The streams' part of a live line: each stream's fps while there are few (`max`), else the three
 * busiest and how many more, e.g. `cam1 30.0, cam2 29.9, cam3 15.0 fps +997 more`.
 */
export function streamsPart(streams: Record<string, Listed>, total: number, max: number = DEFAULTS.statsLineStreams): string {
  const shown = busiestFirst(streams).slice(0, total <= max ? max : 3);
  if (shown.length === 0) return '';
  const more = total - shown.length;
  return `${shown.map(([topic, s]) => `${topic} ${s.fps.toFixed(1)}`).join(', ')} fps${more > 0 ? ` +${more} more` : ''}`;
}
