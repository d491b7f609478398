import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { describeError, UsageError } from '../errors';
import type { Logger } from '../log';
import { AccessControl } from './access-control';

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
  /** The token every request must carry (--token / ZEROCAM_TOKEN); random when not given. */
  token?: string | undefined;
  /** Host header names allowed besides loopback and the bound address (--allowed-host). */
  allowedHosts?: readonly string[] | undefined;
  /** Serve HTTPS with this certificate chain and key (PEM; --tls-cert, --tls-key); plain HTTP without. */
  tls?: HttpTls | undefined;
}

export interface HttpTls {
  cert: Buffer;
  key: Buffer;
}

/**
 * zerocam's one HTTP server (`zerocam-viewer --web`, `zerocam-hub --http`). Every request and every
 * WebSocket upgrade passes through `onRequest` / `onUpgrade`, and so through the access checks
 * (Host header, token: access-control.ts) before any route sees it.
 */
export class HttpServer {
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly options: HttpServerOptions,
    private readonly access: AccessControl,
    readonly url: string,
  ) {}

  /** What a user opens: the URL with the token, when the server made the token up itself. */
  get pageUrl(): string {
    return this.options.token === undefined ? this.access.urlWithToken(this.url) : this.url;
  }

  /** For a log line: where the token is, without printing one the user chose. */
  get tokenHint(): string {
    return this.options.token === undefined ? 'the token is in the URL' : 'with the token given by --token';
  }

  static async start(options: HttpServerOptions): Promise<HttpServer> {
    const server: Server = options.tls ? createTlsServer({ cert: options.tls.cert, key: options.tls.key }) : createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((error: unknown) => {
      // A port taken or an address not on this host is the operator's to fix: one line, exit 2.
      const code = (error as { code?: string }).code;
      throw new UsageError(`cannot serve HTTP on ${options.host}:${options.port}: ${code === 'EADDRINUSE' ? 'address already in use' : describeError(error)}`);
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const access = new AccessControl({ token: options.token, boundHost: options.host, allowedHosts: options.allowedHosts, secure: options.tls !== undefined }, port);
    const http = new HttpServer(server, options, access, `${options.tls ? 'https' : 'http'}://${host}:${port}/`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => http.onRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => http.onUpgrade(req, socket, head));
    // A client that sends garbage or vanishes mid-request must never take the process down.
    server.on('clientError', (_error, socket: Duplex) => socket.destroy());
    // A TLS handshake that fails (plain HTTP sent to an HTTPS port, a client that distrusts the certificate) ends that connection only.
    server.on('tlsClientError', (_error, socket: Duplex) => socket.destroy());
    server.on('connection', (socket: Socket) => socket.on('error', () => socket.destroy()));
    server.on('error', (error) => options.log.error(`HTTP server: ${error.message}`));
    return http;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    res.on('error', () => res.destroy());
    const verdict = this.access.check(req);
    if (!verdict.allowed) {
      sendText(res, verdict.status, verdict.reason);
      return;
    }
    if (verdict.setCookie) res.setHeader('Set-Cookie', verdict.setCookie);
    const path = pathOf(req);
    for (const routes of this.options.routes) if (routes.request?.(req, res, path)) return;
    notFound(res);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const verdict = this.access.check(req);
    if (!verdict.allowed) {
      socket.end(`HTTP/1.1 ${verdict.status} ${STATUS_CODES[verdict.status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
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
