import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WebSocketServer, type WebSocket } from 'ws';
import type { CurveKeyPair } from '../sockets/curve-keys';
import { DEFAULTS } from '../defaults';
import { nowMicros } from '../clock';

import { describeError, InvalidMessageError, LimitError, RefusedEndpointError } from '../errors';
import { BASE_HEADERS, isReadMethod, type HttpRoutes } from './http-server';
import type { Logger } from '../log';
import { CONTENT_SECURITY_POLICY } from '../viewer/content-security-policy';
import { parseClientMessage } from '../viewer/message-validation';
import type { StreamLimits } from '../stats/stream-bounds';
import { ViewerEngine } from '../viewer/viewer-engine';
import type { ClientMessage, ServerMessage, ViewerSettings } from '../viewer/viewer-messages';

/** A page probes its clock every 500 ms; answers come no closer together than this. */
const CLOCK_ANSWER_GAP_US = 100_000;

/** The viewer page on zerocam's HTTP server: `zerocam-viewer --web`, and the hub's `--http`. */
export interface ViewerUiOptions {
  /** Folder with the built page: index.html, bundle.js, style.css; default VIEWER_PAGE_DIR. */
  pageDir?: string | undefined;
  settings: ViewerSettings;
  log: Logger;
  /** The viewer's own CURVE key (--curve-key); used by the sockets here, never sent to a page. */
  curveKey?: CurveKeyPair | undefined;
  /** --allow-ipc: a page may ask for ipc:// and inproc:// endpoints, not only tcp:// ones. */
  allowIpc?: boolean | undefined;
  /** --stream-ttl, --max-streams: the streams each page's connections keep state for. */
  streamLimits?: StreamLimits | undefined;
}

/**
 * Where `npm run build` puts the viewer's page (scripts/build-renderer.ts): beside the programs in
 * dist/, not inside any one of them, because the desktop viewer, `--web` and the hub all serve it.
 */
export const VIEWER_PAGE_DIR = join(__dirname, '..', '..', 'viewer-page');

/** WebSocket close codes (RFC 6455 7.4.1; 1013 from the IANA registry). */
const CLOSE_TRY_AGAIN_LATER = 1013;

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/bundle.js': { file: 'bundle.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};
const FEED_PATH = '/feed';

/**
 * The viewer page and its WebSocket feed. Each browser tab gets its own ViewerEngine, so its flow control is its own.
 * Pages are limited in all and per client address, and so are each page's connections: every one
 * costs ZeroMQ sockets and descriptors, and the process has a fixed number of those.
 */
export async function viewerUiRoutes(options: ViewerUiOptions): Promise<HttpRoutes> {
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const [path, { file, type }] of Object.entries(FILES)) files.set(path, { body: await readFile(join(options.pageDir ?? VIEWER_PAGE_DIR, file)), type });
  // ws checks every frame (masking, RSV bits, opcodes, UTF-8, close codes, size) and closes a
  // connection that breaks a rule with the code for it (1002, 1007, 1009), then reports an 'error'.
  const wss = new WebSocketServer({ noServer: true, maxPayload: DEFAULTS.webMaxMessageBytes });
  const sockets = new Set<WebSocket>();
  const pagesPerClient = new Map<string, number>();
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
      const client = req.socket.remoteAddress ?? '';
      wss.handleUpgrade(req, socket, head, (ws) => {
        // Before anything else, so no error can go unhandled and end the process.
        ws.on('error', () => undefined);
        const overLimit =
          sockets.size >= DEFAULTS.webMaxPages
            ? `too many viewer pages are open (at most ${DEFAULTS.webMaxPages}); close one and reload`
            : (pagesPerClient.get(client) ?? 0) >= DEFAULTS.webMaxPagesPerClient
              ? `too many viewer pages are open from ${client} (at most ${DEFAULTS.webMaxPagesPerClient}); close one and reload`
              : undefined;
        if (overLimit) {
          ws.close(CLOSE_TRY_AGAIN_LATER, overLimit);
          return;
        }
        sockets.add(ws);
        pagesPerClient.set(client, (pagesPerClient.get(client) ?? 0) + 1);
        ws.on('close', () => {
          sockets.delete(ws);
          const left = (pagesPerClient.get(client) ?? 1) - 1;
          if (left > 0) pagesPerClient.set(client, left);
          else pagesPerClient.delete(client);
        });
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
  let protocolErrors = 0;
  ws.on('error', (error) => {
    if (protocolErrors++ === 0) options.log.warn(`closed a browser connection that broke the WebSocket protocol: ${error.message} (further ones are not logged)`);
  });
  const offered = new Set(options.settings.connections.flatMap((c) => (c.results ? [c.endpoint, c.results] : [c.endpoint])));
  let opening = 0;
  const send = (message: ServerMessage): void => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
  };
  const engine = new ViewerEngine({
    // The metadata and the JPEG travel as two WebSocket messages, so the JPEG is never copied into a combined buffer.
    frame: (meta, jpeg) => {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(JSON.stringify({ type: 'frame', meta }));
      ws.send(jpeg, { binary: true });
    },
    status: (update) => send({ type: 'status', update }),
  }, { curveKey: options.curveKey, log: options.log, streamLimits: options.streamLimits });
  let invalidMessages = 0;
  let lastClockAnswerUs = -Infinity;
  ws.on('message', (data, isBinary) => {
    const arrivedUs = nowMicros();
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
    // A clock probe is answered at once, not behind a connect: its round trip is its accuracy. At
    // most one per CLOCK_ANSWER_GAP_US: a page that floods probes gets no more answers than that.
    if (message.type !== 'clock') void handle(message);
    else if (arrivedUs - lastClockAnswerUs >= CLOCK_ANSWER_GAP_US) {
      lastClockAnswerUs = arrivedUs;
      send({ type: 'clock', t1: message.t1, t2: arrivedUs, t3: nowMicros() });
    }
  });
  const handle = async (message: Exclude<ClientMessage, { type: 'clock' }>): Promise<void> => {
    switch (message.type) {
      case 'displayed':
        engine.displayed(message.key, message.ticket);
        return;
      case 'connect':
        try {
          checkEndpoint(message.request.endpoint, offered, options.allowIpc ?? false);
          if (message.request.results) checkEndpoint(message.request.results, offered, options.allowIpc ?? false);
          if (engine.connectionCount + opening >= DEFAULTS.webMaxConnectionsPerPage) {
            throw new LimitError(`this page already has ${DEFAULTS.webMaxConnectionsPerPage} connections, the most the server allows; disconnect one first`);
          }
          opening++;
          try {
            send({ type: 'reply', requestId: message.requestId, ok: true, connection: await engine.connect(message.request) });
          } finally {
            opening--;
          }
        } catch (error) {
          send({ type: 'reply', requestId: message.requestId, ok: false, error: describeError(error) });
        }
        return;
      case 'disconnect':
        engine.disconnect(message.connectionId);
        send({ type: 'reply', requestId: message.requestId, ok: true });
        return;
    }
  };
  ws.on('close', () => engine.close());
  send({ type: 'settings', settings: options.settings });
}

/**
 * A page may make this process connect anywhere it can reach over tcp. Local sockets (ipc://, inproc://)
 * reach inside this machine and process, so only the server's own --connect endpoints, or --allow-ipc, permit them.
 */
function checkEndpoint(endpoint: string, offered: ReadonlySet<string>, allowIpc: boolean): void {
  if (endpoint.startsWith('tcp://') || allowIpc || offered.has(endpoint)) return;
  throw new RefusedEndpointError(`${endpoint.split('://')[0]}:// endpoints are refused from a page unless the server runs with --allow-ipc`);
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
  const scheme = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  return origin === undefined || origin === `${scheme}://${req.headers.host}`;
}
