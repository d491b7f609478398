import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { nowMicros } from '../clock';
import { DEFAULTS } from '../defaults';
import { describeError } from '../errors';
import { isValidTopic } from '../wire/protocol';
import type { CachedFrame, StreamCatalog } from './stream-catalog';
import { BASE_HEADERS, isReadMethod, notFound, sendText } from './http-server';
import { createMetricsRegistry, type MetricsSource } from './metrics';
import { MjpegClient } from './mjpeg-stream';

const SNAPSHOT = /^\/snapshot\/([^/]+)\.jpg$/;
const STREAM = /^\/stream\/([^/]+)\.mjpeg$/;

/** Asks for the streams whose topic starts with `prefix`; the returned function withdraws the request. */
export type DemandStreams = (prefix: string) => () => void;

/**
 * Where the gateway's frames come from when it asks for streams only on use (the hub): without it,
 * the catalog is fed whatever happens (the viewer's --web watches its --connect streams throughout).
 */
export interface OnDemandSource {
  demand: DemandStreams;
  isWatched: (topic: string) => boolean;
  snapshotWaitMs?: number;
}

/**
 * The web gateway: any HTTP client can watch what a StreamCatalog holds.
 *   /streams.json          every stream, its state and counters
 *   /snapshot/TOPIC.jpg    the newest JPEG exactly as sent (404 unknown topic, 503 before a frame)
 *   /stream/TOPIC.mjpeg    multipart/x-mixed-replace MJPEG, newest frame only per client
 *   /metrics               Prometheus text format
 * With an OnDemandSource, an MJPEG client asks for its stream while it is connected, and a
 * snapshot of a stream with no fresh frame asks for it until one comes (or snapshotWaitMs passes).
 */
export class GatewayRoutes {
  private readonly registry: Registry;
  private readonly work: MetricsSource['work'];
  private readonly clients = new Set<MjpegClient>();
  private readonly pendingSnapshots = new Set<() => void>();

  constructor(
    private readonly catalog: StreamCatalog,
    source: Omit<MetricsSource, 'catalog'> = {},
    private readonly onDemand?: OnDemandSource,
  ) {
    this.registry = createMetricsRegistry({ ...source, catalog });
    this.work = source.work;
  }

  /** Frames MJPEG clients connected now passed over for a newer one. */
  mjpegClientsSkipped(): number {
    let skipped = 0;
    for (const client of this.clients) skipped += client.skipped;
    return skipped;
  }

  /** Bytes held for MJPEG clients connected now. */
  mjpegBufferedBytes(): number {
    let bytes = 0;
    for (const client of this.clients) bytes += client.bufferedBytes;
    return bytes;
  }

  request(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    if (!isReadMethod(req)) return false;
    if (path === '/streams.json') {
      const streams = this.catalog.describe(Date.now(), this.onDemand?.isWatched);
      const body = Buffer.from(`${JSON.stringify({ streams, ...(this.work && { work: this.work() }) }, null, 2)}\n`);
      res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'application/json', 'Content-Length': body.length }).end(body);
      return true;
    }
    if (path === '/metrics') {
      this.registry.metrics().then(
        (text) => {
          // Each scrape collects every value afresh; between scrapes, prom-client would keep the last one's series.
          this.registry.resetMetrics();
          sendText(res, 200, text.trimEnd(), this.registry.contentType);
        },
        (error: unknown) => sendText(res, 500, `metrics failed: ${describeError(error)}`),
      );
      return true;
    }
    const snapshot = SNAPSHOT.exec(path);
    if (snapshot) {
      this.serveSnapshot(res, decodeTopic(snapshot[1]!));
      return true;
    }
    const stream = STREAM.exec(path);
    if (stream) {
      this.serveStream(req, res, decodeTopic(stream[1]!));
      return true;
    }
    return false;
  }

  /** Ends every MJPEG response and answers every waiting snapshot. Idempotent. */
  close(): void {
    for (const client of this.clients) client.close();
    this.clients.clear();
    for (const answer of this.pendingSnapshots) answer();
  }

  private serveSnapshot(res: ServerResponse, topic: string | undefined): void {
    if (topic === undefined || !this.catalog.knows(topic)) return notFound(res, `no stream named ${JSON.stringify(topic ?? '')}`);
    const fresh = this.catalog.fresh(topic, nowMicros());
    if (fresh || !this.onDemand) return sendSnapshot(res, topic, fresh ?? this.catalog.latest(topic));
    const release = this.onDemand.demand(topic);
    let answered = false;
    const answer = (cached: CachedFrame | undefined): void => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      stopListening();
      release();
      this.pendingSnapshots.delete(whenClosing);
      sendSnapshot(res, topic, cached);
    };
    const whenClosing = (): void => answer(this.catalog.latest(topic));
    const stopListening = this.catalog.listen(topic, answer);
    const timer = setTimeout(whenClosing, this.onDemand.snapshotWaitMs ?? DEFAULTS.snapshotWaitMs);
    this.pendingSnapshots.add(whenClosing);
    res.on('close', whenClosing);
  }

  private serveStream(req: IncomingMessage, res: ServerResponse, topic: string | undefined): void {
    if (topic === undefined || !this.catalog.knows(topic)) return notFound(res, `no stream named ${JSON.stringify(topic ?? '')}`);
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'multipart/x-mixed-replace' }).end();
      return;
    }
    const client = new MjpegClient(res);
    this.clients.add(client);
    const latest = this.catalog.latest(topic);
    if (latest) client.push(latest.frame.jpeg);
    const stopListening = this.catalog.listen(topic, (cached) => client.push(cached.frame.jpeg));
    const release = this.onDemand?.demand(topic);
    res.on('close', () => {
      stopListening();
      release?.();
      this.clients.delete(client);
    });
  }
}

function sendSnapshot(res: ServerResponse, topic: string, cached: CachedFrame | undefined): void {
  if (res.writableEnded || res.destroyed) return;
  if (!cached) return sendText(res, 503, `no frame from ${topic} yet`);
  const { jpeg } = cached.frame;
  res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length }).end(jpeg);
}

function decodeTopic(raw: string): string | undefined {
  try {
    const topic = decodeURIComponent(raw);
    return isValidTopic(topic) ? topic : undefined;
  } catch {
    return undefined;
  }
}
