#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { join } from 'node:path';
import { Option } from 'commander';
import { addWebAccessOptions, readWebTls, WEB_ACCESS_HELP, type WebAccessFlags } from '../common/cli/web-options';
import { collectEndpoints, collectTopics, parseEndpointFor, parseIntIn } from '../common/cli/values';
import { createProgram, envOption, runCli } from '../common/cli/program';
import { CURVE_HELP, curveKeyOption, curveServerOption } from '../common/cli/curve-options';
import { DEFAULTS } from '../common/defaults';
import { addStreamLimitOptions, healthFileOption, parseFlags, socketBufferOption, streamLimitsFrom, type StreamLimitFlags } from '../common/cli/options';
import type { StreamLimits } from '../common/stats/stream-bounds';
import type { CurveKeyPair } from '../common/sockets/curve-keys';
import { checkAndWatchConnectEndpoints } from '../common/cli/connect-endpoints';
import { HealthFile } from '../common/cli/health-file';
import { UsageError } from '../common/errors';
import { GatewayRoutes } from '../common/web/gateway-routes';
import { StreamCatalog } from '../common/web/stream-catalog';
import { StreamWatcher } from './stream-watcher';
import { VIEWER_CURVE_KEY_ENV } from '../common/viewer/message-validation';
import { createLogger, type Logger } from '../common/log';
import type { ViewerPattern, ViewerSettings } from '../common/viewer/viewer-messages';
import { ViewerWebServer } from './web-server';

const NAME = 'zerocam-viewer';

interface RawOptions extends WebAccessFlags, StreamLimitFlags {
  socketBuffer: number;
  connect?: string[];
  topic?: string[];
  results?: string;
  pattern: ViewerPattern;
  wire: 'zerocam' | 'imagezmq';
  web: boolean;
  host: string;
  port: number;
  healthFile?: string;
  curveKey?: CurveKeyPair;
  curveServer?: string;
}

function buildProgram() {
  return addStreamLimitOptions(addWebAccessOptions(createProgram(NAME, 'Watch zerocam streams: a desktop window (Electron), or any browser with --web.')))
    .addOption(envOption('-c, --connect <endpoint>', 'sender(s) to show, repeatable or comma-separated', 'CONNECT').argParser(collectEndpoints))
    .addOption(envOption('-t, --topic <name>', 'only these streams (repeatable or comma-separated; default: all)', 'TOPIC').argParser(collectTopics))
    .addOption(envOption('-p, --pattern <pattern>', 'sub (for a pub sender) or pull (for a push sender)', 'PATTERN').choices(['sub', 'pull']).default(DEFAULTS.receiverPattern))
    .addOption(envOption('--wire <format>', 'zerocam, or imagezmq (imagezmq PUB senders, with --pattern sub)', 'WIRE').choices(['zerocam', 'imagezmq']).default(DEFAULTS.wire))
    .addOption(envOption('--results <endpoint>', "a hub's --results endpoint: draw each stream's newest result (boxes, labels) over its frames", 'RESULTS').argParser(parseEndpointFor('connect')))
    .addOption(new Option('--web', 'serve the viewer over HTTP for a browser instead of opening a window').default(false))
    .addOption(envOption('--host <address>', 'address to serve --web on (127.0.0.1 keeps it to this machine)', 'VIEWER_HOST').default(DEFAULTS.viewerHost))
    .addOption(envOption('--port <port>', 'port to serve --web on (0 picks a free one)', 'VIEWER_PORT').argParser(parseIntIn(0, 65535)).default(DEFAULTS.viewerPort))
    .addOption(healthFileOption())
    .addOption(socketBufferOption())
    .addOption(curveKeyOption())
    .addOption(curveServerOption())
    .addHelpText(
      'after',
      `
Examples:
  ${NAME} --connect tcp://camhost:5555
  ${NAME} --connect tcp://cam1:5555,tcp://cam2:5555 --topic cam1,cam2
  ${NAME} --web --port 8080 --connect tcp://camhost:5555     then open the URL it prints (http://127.0.0.1:8080/?token=...)
  ${NAME} --web --host 0.0.0.0 --allowed-host cams.lan --token $(cat token)   for the LAN, at http://cams.lan:8080/
  ${NAME} --wire imagezmq --connect tcp://raspberrypi:5555   an imagezmq PUB sender
  ${NAME} --connect tcp://camhost:5555 --curve-server cam1.pub --curve-key me.key

${CURVE_HELP}
The connection form takes a server key too; the viewer's own --curve-key never reaches the page.

${WEB_ACCESS_HELP}`,
    );
}

/** The Electron binary, if its install downloaded one. `require('electron')` in Node yields its path. */
function electronBinary(): string | undefined {
  try {
    const path: unknown = createRequire(__filename)('electron');
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

async function serveWeb(raw: RawOptions, settings: ViewerSettings, log: Logger, signal: AbortSignal): Promise<number> {
  const tls = await readWebTls(raw);
  // The gateway (snapshots, MJPEG, /streams.json, /metrics) watches the --connect streams. Not with pull: it would take frames from the page.
  const streamLimits = streamLimitsFrom(raw);
  const catalog = new StreamCatalog(DEFAULTS.viewerStallMs, streamLimits);
  const security = raw.curveServer === undefined ? undefined : { curve: { key: raw.curveKey, serverKey: raw.curveServer }, log };
  const watcher =
    raw.connect?.length && raw.pattern === 'sub'
      ? await StreamWatcher.open({ attachment: { connect: raw.connect }, pattern: 'sub', topics: raw.topic ?? [], catalog, security, streamLimits })
      : undefined;
  const health = HealthFile.start(raw.healthFile, NAME);
  try {
    const server = await ViewerWebServer.start({
      host: raw.host,
      port: raw.port,
      settings,
      log,
      curveKey: raw.curveKey,
      token: raw.token,
      allowedHosts: raw.allowedHost,
      tls,
      allowIpc: raw.allowIpc,
      streamLimits,
      routes: [new GatewayRoutes(catalog)],
    });
    try {
      log.info({ event: 'serving', url: server.pageUrl }, `viewer at ${server.pageUrl}: open it in a browser (${server.tokenHint})`);
      const watching = watcher?.run();
      if (!signal.aborted) await Promise.race([once(signal, 'abort'), ...(watching ? [watching] : [])]);
    } finally {
      await server.close();
    }
  } finally {
    health?.close();
    watcher?.close();
  }
  return 0;
}

async function openWindow(settings: ViewerSettings, curveKey: CurveKeyPair | undefined, socketBuffer: number, streamLimits: StreamLimits, signal: AbortSignal): Promise<number> {
  const binary = electronBinary();
  if (!binary) {
    throw new UsageError(
      'the Electron binary is not installed (its download was skipped or failed); run "npm install" on a machine that can download it, or use --web to watch in a browser',
    );
  }
  const child = spawn(binary, [join(__dirname, 'main.js')], {
    stdio: 'inherit',
    // The main process owns the sockets, so it gets the key; its renderer never does.
    env: {
      ...process.env,
      ZEROCAM_SOCKET_BUFFER: String(socketBuffer),
      ZEROCAM_STREAM_TTL_MS: String(streamLimits.ttlMs),
      ZEROCAM_MAX_STREAMS: String(streamLimits.maxStreams),
      ZEROCAM_VIEWER_SETTINGS: JSON.stringify(settings),
      ...(curveKey ? { [VIEWER_CURVE_KEY_ENV]: JSON.stringify(curveKey) } : {}),
    },
  });
  const stop = (): boolean => child.kill('SIGTERM');
  signal.addEventListener('abort', stop, { once: true });
  const [code] = (await once(child, 'exit')) as [number | null];
  signal.removeEventListener('abort', stop);
  return code ?? 0;
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const raw = parseFlags<RawOptions>(buildProgram(), argv);
  const log = createLogger(NAME);
  // Here, before the window's process or the web server connects them.
  const hosts = await checkAndWatchConnectEndpoints(raw.connect ?? [], log);
  const settings: ViewerSettings = {
    connections: (raw.connect ?? []).map((endpoint) => ({
      endpoint,
      pattern: raw.pattern,
      topics: raw.topic ?? [],
      ...(raw.wire === 'imagezmq' ? { wire: raw.wire } : {}),
      ...(raw.curveServer ? { serverKey: raw.curveServer } : {}),
      ...(raw.results ? { results: raw.results } : {}),
    })),
  };
  try {
    return await (raw.web ? serveWeb(raw, settings, log, signal) : openWindow(settings, raw.curveKey, raw.socketBuffer, streamLimitsFrom(raw), signal));
  } finally {
    hosts.close();
  }
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
