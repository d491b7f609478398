import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CurveKeyPair } from '../common/curve-keys';
import { describeError } from '../common/errors';
import type { Logger } from '../common/log';
import { CONTENT_SECURITY_POLICY } from './content-security-policy';
import { InvalidMessageError, parseClientMessage } from './message-validation';
import { StreamHub } from './stream-hub';
import type { ClientMessage, ServerMessage, ViewerSettings } from './viewer-messages';

export interface WebServerOptions {
  host: string;
  port: number;
  /** Folder with the built renderer: index.html, bundle.js, style.css. */
  rendererDir: string;
  settings: ViewerSettings;
  log: Logger;
  /** The viewer's own CURVE key (--curve-key); used by the sockets here, never sent to a page. */
  curveKey?: CurveKeyPair | undefined;
}

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/bundle.js': { file: 'bundle.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const FEED_PATH = '/feed';

/**
 * `zerocam-viewer --web`: serves the same renderer the desktop app shows, with frames over a
 * WebSocket. Each browser tab gets its own StreamHub, so its flow control is its own.
 */
export class ViewerWebServer {
  private readonly sockets = new Set<WebSocket>();
  private closed = false;

  private constructor(
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(options: WebServerOptions): Promise<ViewerWebServer> {
    const files = new Map<string, { body: Buffer; type: string }>();
    for (const [path, { file, type }] of Object.entries(FILES)) files.set(path, { body: await readFile(join(options.rendererDir, file)), type });

    const server = createServer((req, res) => serveFile(files, req, res));
    const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    const web = new ViewerWebServer(server, wss, `http://${host}:${port}/`);
    server.on('upgrade', (req, socket, head) => {
      if (req.url !== FEED_PATH || !isSameOrigin(req)) {
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => web.serveFeed(ws, options));
    });
    return web;
  }

  private serveFeed(ws: WebSocket, options: WebServerOptions): void {
    this.sockets.add(ws);
    const send = (message: ServerMessage): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
    };
    const hub = new StreamHub({
      // The metadata and the JPEG travel as two WebSocket messages, so the JPEG is never copied into a combined buffer.
      frame: (meta, jpeg) => {
        if (ws.readyState !== ws.OPEN) return;
        ws.send(JSON.stringify({ type: 'frame', meta }));
        ws.send(jpeg, { binary: true });
      },
      status: (update) => send({ type: 'status', update }),
    }, { curveKey: options.curveKey, log: options.log });
    let invalidMessages = 0;
    ws.on('message', (data, isBinary) => {
      let message: ClientMessage;
      try {
        if (isBinary) throw new InvalidMessageError('binary messages are not accepted');
        message = parseClientMessage(JSON.parse(rawToString(data)));
      } catch (error) {
        if (error instanceof InvalidMessageError && error.requestId !== undefined) {
          send({ type: 'reply', requestId: error.requestId, ok: false, error: error.message });
        } else if (invalidMessages++ === 0) {
          options.log.warn(`ignored an invalid message from a browser: ${describeError(error)}`);
        }
        return;
      }
      void handle(message);
    });
    const handle = async (message: ClientMessage): Promise<void> => {
      switch (message.type) {
        case 'displayed':
          hub.displayed(message.key, message.ticket);
          return;
        case 'connect':
          try {
            send({ type: 'reply', requestId: message.requestId, ok: true, connection: await hub.connect(message.request) });
          } catch (error) {
            send({ type: 'reply', requestId: message.requestId, ok: false, error: describeError(error) });
          }
          return;
        case 'disconnect':
          hub.disconnect(message.connectionId);
          send({ type: 'reply', requestId: message.requestId, ok: true });
          return;
      }
    };
    ws.on('close', () => {
      this.sockets.delete(ws);
      hub.close();
    });
    send({ type: 'settings', settings: options.settings });
  }

  /** Closes every feed (and its sockets) and the HTTP server. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function rawToString(data: Buffer | ArrayBuffer | Buffer[]): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

/**
 * Any web page the user visits could open a WebSocket to 127.0.0.1; only our own page may.
 * Browsers always send Origin; a client that sends none is not a browser page.
 */
function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${req.headers.host}`;
}

function serveFile(files: Map<string, { body: Buffer; type: string }>, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const file = req.method === 'GET' || req.method === 'HEAD' ? files.get(path) : undefined;
  const headers = {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  };
  if (!file) {
    res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': file.type, 'Content-Length': file.body.length });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}
