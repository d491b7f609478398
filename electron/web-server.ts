import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { describeError } from '../common/errors';
import { BASE_HEADERS, HttpServer, isReadMethod, type HttpRoutes } from '../common/http/http-server';
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
  /** More routes on the same server, after the viewer's own (the web gateway's, say). */
  routes?: readonly HttpRoutes[];
}

export type ViewerUiOptions = Omit<WebServerOptions, 'host' | 'port' | 'routes'>;

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/bundle.js': { file: 'bundle.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const FEED_PATH = '/feed';

/**
 * `zerocam-viewer --web`: serves the same renderer the desktop app shows, with frames over a
 * WebSocket, on zerocam's one HTTP server (common/http).
 */
export class ViewerWebServer {
  private constructor(private readonly http: HttpServer) {}

  get url(): string {
    return this.http.url;
  }

  static async start(options: WebServerOptions): Promise<ViewerWebServer> {
    const ui = await viewerUiRoutes(options);
    return new ViewerWebServer(await HttpServer.start({ host: options.host, port: options.port, log: options.log, routes: [ui, ...(options.routes ?? [])] }));
  }

  /** Closes every feed (and its sockets) and the HTTP server. Idempotent. */
  close(): Promise<void> {
    return this.http.close();
  }
}

/** The viewer page and its WebSocket feed. Each browser tab gets its own StreamHub, so its flow control is its own. */
export async function viewerUiRoutes(options: ViewerUiOptions): Promise<HttpRoutes> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(FILES)) files.set(path, { body: await readFile(join(options.rendererDir, file)), type });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const sockets = new Set<WebSocket>();
  return {
    request: (req, res, path) => {
      const file = isReadMethod(req) ? files.get(path) : undefined;
      if (!file) return false;
      res.writeHead(200, { ...BASE_HEADERS, 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Content-Type': file.type, 'Content-Length': file.body.length });
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return true;
    },
    upgrade: (req, socket, head, path) => {
      if (path !== FEED_PATH) return false;
      if (!isSameOrigin(req)) {
        socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
        return true;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        sockets.add(ws);
        ws.on('close', () => sockets.delete(ws));
        serveFeed(ws, options);
      });
      return true;
    },
    close: () => {
      for (const ws of sockets) ws.terminate();
      wss.close();
    },
  };
}

function serveFeed(ws: WebSocket, options: ViewerUiOptions): void {
  ws.on('error', () => ws.terminate());
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
  });
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
  ws.on('close', () => hub.close());
  send({ type: 'settings', settings: options.settings });
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
