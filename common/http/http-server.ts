import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log';

/** Headers on every response: nothing is cached, sniffed or leaked through Referer. */
export const BASE_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
} as const;

/**
 * A set of routes. `request` and `upgrade` return true if they took the request; the first taker wins.
 * `close` ends whatever long-lived responses or sockets the routes hold.
 */
export interface HttpRoutes {
  request?(req: IncomingMessage, res: ServerResponse, path: string): boolean;
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, path: string): boolean;
  close?(): void;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  routes: readonly HttpRoutes[];
  log: Logger;
}

/**
 * zerocam's one HTTP server (`zerocam-viewer --web`, `zerocam-hub --http`). Every request and every
 * WebSocket upgrade passes through `onRequest` / `onUpgrade`: checks that apply to all routes
 * (access control) belong there, once.
 */
export class HttpServer {
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: HttpServerOptions,
    readonly url: string,
  ) {}

  static async start(options: HttpServerOptions): Promise<HttpServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const http = new HttpServer(server, options, `http://${host}:${port}/`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => http.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => http.onUpgrade(req, socket, head));
    // A client that sends garbage or vanishes mid-request must never take the process down.
    server.on('clientError', (_error, socket: Duplex) => socket.destroy());
    server.on('connection', (socket: Socket) => socket.on('error', () => socket.destroy()));
    server.on('error', (error) => options.log.error(`HTTP server: ${error.message}`));
    return http;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => res.destroy());
    const path = pathOf(req);
    for (const routes of this.options.routes) if (routes.request?.(req, res, path)) return;
    notFound(res);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const path = pathOf(req);
    for (const routes of this.options.routes) if (routes.upgrade?.(req, socket, head, path)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
  }

  /** Ends every route's long-lived responses, then the server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const routes of this.options.routes) routes.close?.();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function pathOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

export function isReadMethod(req: IncomingMessage): boolean {
  return req.method === 'GET' || req.method === 'HEAD';
}

export function notFound(res: ServerResponse, text = 'not found'): void {
  sendText(res, 404, text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain; charset=utf-8'): void {
  const body = Buffer.from(`${text}\n`);
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': contentType, 'Content-Length': body.length }).end(body);
}
