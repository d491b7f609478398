import { DEFAULTS } from '../common/defaults';
import type { ReceiverSummary } from '../common/stats/receiver-stats';
import { streamsPart, withBusiestStreams } from '../common/stats/stream-listing';
import { formatBytesPerSecond } from '../common/stats/stats-reporter';
import type { ViewerLinksSummary } from './viewer-links';
import { workLine, type WorkSummary } from './work/work-stats';

/**
 * The hub's stats: what it forwards, its receivers, the frames it queues per receiver now (`hwm`), and
 * what its zerocam receivers report of their links (`links`, per stream; plain SUB receivers report nothing).
 */
export type HubSummary = ReceiverSummary & { receivers: number; hwm: number; links: ViewerLinksSummary; work?: WorkSummary };

/**
 * The slowest link-limited viewer of each stream, e.g. ` | link-limited viewers: cam1 8 of 30 fps (120 skipped)`;
 * past DEFAULTS.statsLineStreams of them, the first few and how many more.
 */
function limitedViewersPart(links: ViewerLinksSummary): string {
  const limited = Object.entries(links.streams).filter(([, link]) => link.limited);
  if (limited.length === 0) return '';
  const shown = limited.slice(0, limited.length <= DEFAULTS.statsLineStreams ? limited.length : 3);
  const each = shown.map(([topic, link]) => `${topic} ${Math.round(link.deliveredFps)} of ${Math.round(link.offeredFps)} fps (${link.skipped} skipped)`);
  const more = limited.length - shown.length;
  return ` | link-limited viewers: ${each.join(', ')}${more > 0 ? ` +${more} more` : ''}`;
}

/** One line however many streams: totals, and each stream's fps only while there are few (common/stats/stream-listing.ts). */
export function liveLine(s: HubSummary): string {
  const oldest = Object.values(s.streams).reduce((max, x) => Math.max(max, x.lastFrameAgeMs ?? 0), 0);
  const streams = streamsPart(s.streams, s.streamCount);
  return (
    `${s.streamCount} streams${streams ? ` (${streams})` : ''} → ${s.receivers} receivers | ${s.fps.toFixed(1)} fps ${formatBytesPerSecond(s.bytesPerSecond)}` +
    ` | frames ${s.frames} dropped ${s.dropped} skipped ${s.skipped} rejected ${s.rejected}${s.denied ? ` denied ${s.denied}` : ''}` +
    `${s.refused ? ` refused ${s.refused}` : ''}${s.forgotten ? ` forgotten ${s.forgotten}` : ''} | oldest frame ${(oldest / 1000).toFixed(1)} s` +
    limitedViewersPart(s.links) +
    (s.work ? workLine(s.work) : '')
  );
}

/** A live JSON stats line: the busiest streams (and viewer links, link-limited first) of many, with their counts. */
export function jsonRecord(s: HubSummary): HubSummary {
  const links = Object.entries(s.links.streams);
  if (links.length <= DEFAULTS.statsJsonStreams) return withBusiestStreams(s);
  const limitedFirst = links.sort(([, a], [, b]) => Number(b.limited) - Number(a.limited)).slice(0, DEFAULTS.statsJsonStreams);
  return { ...withBusiestStreams(s), links: { ...s.links, streams: Object.fromEntries(limitedFirst) } };
}
