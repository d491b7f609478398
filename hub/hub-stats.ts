import type { ReceiverSummary } from '../common/stats/receiver-stats';
import { formatBytesPerSecond } from '../common/stats/stats-reporter';
import type { ViewerLinksSummary } from './viewer-links';
import { workLine, type WorkSummary } from './work/work-stats';

/**
 * The hub's stats: what it forwards, its receivers, the frames it queues per receiver now (`hwm`), and
 * what its zerocam receivers report of their links (`links`, per stream; plain SUB receivers report nothing).
 */
export type HubSummary = ReceiverSummary & { receivers: number; hwm: number; links: ViewerLinksSummary; work?: WorkSummary };

/** The slowest link-limited viewer of each stream, e.g. ` | link-limited viewers: cam1 8 of 30 fps (120 skipped)`. */
function limitedViewersPart(links: ViewerLinksSummary): string {
  const limited = Object.entries(links.streams).filter(([, link]) => link.limited);
  if (limited.length === 0) return '';
  const each = limited.map(([topic, link]) => `${topic} ${Math.round(link.deliveredFps)} of ${Math.round(link.offeredFps)} fps (${link.skipped} skipped)`);
  return ` | link-limited viewers: ${each.join(', ')}`;
}

export function liveLine(s: HubSummary): string {
  const topics = Object.keys(s.streams);
  const oldest = Math.max(0, ...Object.values(s.streams).map((x) => x.lastFrameAgeMs ?? 0));
  return (
    `${topics.length} streams → ${s.receivers} receivers | ${s.fps.toFixed(1)} fps ${formatBytesPerSecond(s.bytesPerSecond)}` +
    ` | frames ${s.frames} dropped ${s.dropped} skipped ${s.skipped} rejected ${s.rejected}${s.denied ? ` denied ${s.denied}` : ''} | oldest frame ${(oldest / 1000).toFixed(1)} s` +
    limitedViewersPart(s.links) +
    (s.work ? workLine(s.work) : '')
  );
}
