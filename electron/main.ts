/**
 * Electron's main process: one window, the ViewerEngine that owns the sockets, and the IPC that
 * joins them. Everything below this glue (the viewer engine, validation, window settings) is plain Node and
 * tested without Electron.
 */
import { app, BrowserWindow, ipcMain, type IpcMainEvent, type IpcMainInvokeEvent } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULTS } from '../common/defaults';
import { describeError } from '../common/errors';
import { parseConnectRequest, parseViewerCurveKey, parseViewerSettings, VIEWER_CURVE_KEY_ENV } from '../common/viewer/message-validation';
import { ViewerEngine } from '../common/viewer/viewer-engine';
import { VIEWER_PAGE_DIR } from '../common/web/viewer-page-routes';
import { setNetworkSocketBuffer } from '../common/sockets/socket-options';
import type { IpcReply } from './viewer-feed';
import { IPC, type ViewerSettings } from '../common/viewer/viewer-messages';
import { isTrustedSender, parseDisplayedArgs, secureWindowOptions } from './window-security';

const indexFile = join(VIEWER_PAGE_DIR, 'index.html');
const indexUrl = pathToFileURL(indexFile).href;
const settings: ViewerSettings = parseViewerSettings(JSON.parse(process.env.ZEROCAM_VIEWER_SETTINGS ?? '{"connections":[]}'));
const curveKey = parseViewerCurveKey(process.env[VIEWER_CURVE_KEY_ENV]);
// zerocam-viewer parsed and checked it (--socket-buffer) before it started this process.
setNetworkSocketBuffer(Number(process.env.ZEROCAM_SOCKET_BUFFER ?? DEFAULTS.socketBufferBytes));
// And these (--stream-ttl, --max-streams).
const streamLimits = {
  ttlMs: Number(process.env.ZEROCAM_STREAM_TTL_MS ?? DEFAULTS.streamTtlMs),
  maxStreams: Number(process.env.ZEROCAM_MAX_STREAMS ?? DEFAULTS.maxStreams),
};

app.enableSandbox();
app.on('web-contents-created', (_event, contents) => {
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  contents.on('will-navigate', (event) => event.preventDefault());
  contents.on('will-attach-webview', (event) => event.preventDefault());
});
app.on('window-all-closed', () => app.quit());
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => app.quit());

void app.whenReady().then(() => {
  const window = new BrowserWindow(secureWindowOptions(join(__dirname, 'preload.bundle.js')));
  const engine = new ViewerEngine({
    frame: (meta, jpeg) => {
      if (!window.isDestroyed()) window.webContents.send(IPC.frame, meta, jpeg);
    },
    status: (update) => {
      if (!window.isDestroyed()) window.webContents.send(IPC.status, update);
    },
  }, { curveKey, streamLimits });
  const trusted = (event: IpcMainEvent | IpcMainInvokeEvent): boolean =>
    event.sender === window.webContents && isTrustedSender(event.senderFrame?.url, indexUrl);

  ipcMain.handle(IPC.settings, (event) => (trusted(event) ? settings : { connections: [] }));
  ipcMain.handle(IPC.connect, async (event, request: unknown): Promise<IpcReply> => {
    if (!trusted(event)) return { ok: false, error: 'not allowed' };
    try {
      return { ok: true, connection: await engine.connect(parseConnectRequest(request)) };
    } catch (error) {
      return { ok: false, error: describeError(error) };
    }
  });
  ipcMain.handle(IPC.disconnect, (event, connectionId: unknown): IpcReply => {
    if (!trusted(event) || typeof connectionId !== 'string') return { ok: false, error: 'not allowed' };
    engine.disconnect(connectionId);
    return { ok: true };
  });
  ipcMain.on(IPC.displayed, (event, key: unknown, ticket: unknown) => {
    const ack = trusted(event) ? parseDisplayedArgs(key, ticket) : undefined;
    if (ack) engine.displayed(ack.key, ack.ticket);
  });
  window.on('closed', () => engine.close());
  app.on('will-quit', () => engine.close());
  void window.loadFile(indexFile);
});
