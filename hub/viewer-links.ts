import { LinkReportError } from '../common/errors';
import { LinkMonitor, type LinkSummary } from '../common/sockets/link-monitor';
import { decodeLinkReport } from '../common/wire/link-report';
import type { StreamCatalog } from '../common/web/stream-catalog';

/** What the links of a forwarder's receivers carry, per stream it forwards. */
export interface ViewerLinksSummary {
  /** Streams some receiver reported on lately: how much of each reaches them, slowest receiver first. */
  streams: Record<string, LinkSummary>;
  /** Upstream messages that claimed to be link reports and did not parse. */
  badReports: number;
}

/**
 * The hub's half of the return path: its receivers' link reports (common/wire/link-report.ts), read as a
 * sender reads its own, one LinkMonitor per stream. Only reports on the session the catalog holds now
 * count, so a camera that restarts starts afresh, and a report on a stream the hub never forwarded
 * costs nothing: one monitor per stream in the catalog at most. A receiver's seq gaps include frames lost before the hub; behind a hub on a fast
 * link, they are the frames its own link cost it.
 */
export class ViewerLinks {
  private readonly monitors = new Map<string, { session: number; monitor: LinkMonitor }>();
  private badReports = 0;

  constructor(private readonly catalog: StreamCatalog) {
    catalog.stats.bounds.onForget((topic) => this.monitors.delete(topic));
  }

  /** One upstream message that starts with the link report magic. Malformed ones are counted, never thrown. */
  onMessage(message: Buffer, nowMs: number): void {
    let topic: string;
    let session: number;
    try {
      ({ topic, session } = decodeLinkReport(message));
    } catch (error) {
      if (!(error instanceof LinkReportError)) throw error;
      this.badReports++;
      return;
    }
    if (this.catalog.latest(topic)?.frame.header.session !== session) return;
    let entry = this.monitors.get(topic);
    if (entry?.session !== session) this.monitors.set(topic, (entry = { session, monitor: new LinkMonitor(topic, session) }));
    entry.monitor.onMessage(message, nowMs);
  }

  summary(nowMs: number): ViewerLinksSummary {
    const streams: Record<string, LinkSummary> = {};
    for (const [topic, { monitor }] of this.monitors) {
      const summary = monitor.summary(nowMs);
      if (summary.receivers.length > 0) streams[topic] = summary;
    }
    return { streams, badReports: this.badReports };
  }
}
