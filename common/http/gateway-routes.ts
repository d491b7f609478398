import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { describeError } from '../errors';
import { isValidTopic } from '../protocol';
import type { StreamCatalog } from '../stream-catalog';
import { BASE_HEADERS, isReadMethod, notFound, sendText } from './http-server';
import { createMetricsRegistry, type MetricsSource } from './metrics';
import { MjpegClient } from './mjpeg-stream';

const SNAPSHOT = /^\/snapshot\/([^/]+)\.jpg$/;
const STREAM = /^\/stream\/([^/]+)\.mjpeg$/;

/**
 * The web gateway: any HTTP client can watch what a StreamCatalog holds.
 *   /streams.json          every stream, its state and counters
 *   /snapshot/TOPIC.jpg    the newest JPEG exactly as sent (404 unknown topic, 503 before a frame)
 *   /stream/TOPIC.mjpeg    multipart/x-mixed-replace MJPEG, newest frame only per client
 *   /metrics               Prometheus text format
 */
export class GatewayRoutes {
  private readonly registry: Registry;
  private readonly clients = new Set<MjpegClient>();

  constructor(
    private readonly catalog: StreamCatalog,
    source: Omit<MetricsSource, 'catalog'> = {},
  ) {
    this.registry = createMetricsRegistry({ ...source, catalog });
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
      const body = Buffer.from(`${JSON.stringify({ streams: this.catalog.describe(Date.now()) }, null, 2)}\n`);
      res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'application/json', 'Content-Length': body.length }).end(body);
      return true;
    }
    if (path === '/metrics') {
      this.registry.metrics().then(
        (text) => sendText(res, 200, text.trimEnd(), this.registry.contentType),
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

  /** Ends every MJPEG response. Idempotent. */
  close(): void {
    for (const client of this.clients) client.close();
    this.clients.clear();
  }

  private serveSnapshot(res: ServerResponse, topic: string | undefined): void {
    if (topic === undefined || !this.catalog.knows(topic)) return notFound(res, `no stream named ${JSON.stringify(topic ?? '')}`);
    const cached = this.catalog.latest(topic);
    if (!cached) return sendText(res, 503, `no frame from ${topic} yet`);
    const { jpeg } = cached.frame;
    res.writeHead(200, { ...BASE_HEADERS, 'Content-Type': 'image/jpeg', 'Content-Length': jpeg.length }).end(jpeg);
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
    res.on('close', () => {
      stopListening();
      this.clients.delete(client);
    });
  }
}

function decodeTopic(raw: string): string | undefined {
  try {
    const topic = decodeURIComponent(raw);
    return isValidTopic(topic) ? topic : undefined;
  } catch {
    return undefined;
  }
}
