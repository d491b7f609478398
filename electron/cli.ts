#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { once } from 'node:events';
import { join } from 'node:path';
import { Option } from 'commander';
import { collectEndpoints, collectTopics, createProgram, DEFAULTS, envOption, healthFileOption, parseCommandLine, parseIntIn, runCli } from '../common/cli';
import { HealthFile } from '../common/health-file';
import { UsageError } from '../common/errors';
import { GatewayRoutes } from '../common/http/gateway-routes';
import { StreamCatalog } from '../common/stream-catalog';
import { StreamWatcher } from '../common/stream-watcher';
import { createLogger } from '../common/log';
import type { ViewerPattern, ViewerSettings } from './viewer-messages';
import { ViewerWebServer } from './web-server';

const NAME = 'zerocam-viewer';

interface RawOptions {
  connect?: string[];
  topic?: string[];
  pattern: ViewerPattern;
  wire: 'zerocam' | 'imagezmq';
  web: boolean;
  host: string;
  port: number;
  healthFile?: string;
}

function buildProgram() {
  return createProgram(NAME, 'Watch zerocam streams: a desktop window (Electron), or any browser with --web.')
    .addOption(envOption('-c, --connect <endpoint>', 'sender(s) to show, repeatable or comma-separated', 'CONNECT').argParser(collectEndpoints))
    .addOption(envOption('-t, --topic <name>', 'only these streams (repeatable or comma-separated; default: all)', 'TOPIC').argParser(collectTopics))
    .addOption(envOption('-p, --pattern <pattern>', 'sub (for a pub sender) or pull (for a push sender)', 'PATTERN').choices(['sub', 'pull']).default(DEFAULTS.receiverPattern))
    .addOption(envOption('--wire <format>', 'zerocam, or imagezmq (imagezmq PUB senders, with --pattern sub)', 'WIRE').choices(['zerocam', 'imagezmq']).default(DEFAULTS.wire))
    .addOption(new Option('--web', 'serve the viewer over HTTP for a browser instead of opening a window').default(false))
    .addOption(envOption('--host <address>', 'address to serve --web on (127.0.0.1 keeps it to this machine)', 'VIEWER_HOST').default(DEFAULTS.viewerHost))
    .addOption(envOption('--port <port>', 'port to serve --web on (0 picks a free one)', 'VIEWER_PORT').argParser(parseIntIn(0, 65535)).default(DEFAULTS.viewerPort))
    .addOption(healthFileOption())
    .addHelpText(
      'after',
      `
Examples:
  ${NAME} --connect tcp://camhost:5555
  ${NAME} --connect tcp://cam1:5555,tcp://cam2:5555 --topic cam1,cam2
  ${NAME} --web --port 8080 --connect tcp://camhost:5555     then open http://127.0.0.1:8080/
  ${NAME} --wire imagezmq --connect tcp://raspberrypi:5555   an imagezmq PUB sender`,
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

async function serveWeb(raw: RawOptions, settings: ViewerSettings, signal: AbortSignal): Promise<number> {
  const log = createLogger(NAME);
  // The gateway (snapshots, MJPEG, /streams.json, /metrics) watches the --connect streams. Not with pull: it would take frames from the page.
  const catalog = new StreamCatalog();
  const watcher =
    raw.connect?.length && raw.pattern === 'sub'
      ? await StreamWatcher.open({ attachment: { connect: raw.connect }, pattern: 'sub', topics: raw.topic ?? [], catalog })
      : undefined;
  const health = HealthFile.start(raw.healthFile, NAME);
  try {
    const server = await ViewerWebServer.start({
      host: raw.host,
      port: raw.port,
      rendererDir: join(__dirname, 'renderer'),
      settings,
      log,
      routes: [new GatewayRoutes(catalog)],
    }).catch((error: unknown) => {
      const code = (error as { code?: string }).code;
      throw new UsageError(`cannot serve on ${raw.host}:${raw.port}: ${code === 'EADDRINUSE' ? 'address already in use' : String(error)}`);
    });
    try {
      log.info({ event: 'serving', url: server.url }, `viewer at ${server.url}: open it in a browser`);
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

async function openWindow(settings: ViewerSettings, signal: AbortSignal): Promise<number> {
  const binary = electronBinary();
  if (!binary) {
    throw new UsageError(
      'the Electron binary is not installed (its download was skipped or failed); run "npm install" on a machine that can download it, or use --web to watch in a browser',
    );
  }
  const child = spawn(binary, [join(__dirname, 'main.js')], {
    stdio: 'inherit',
    env: { ...process.env, ZEROCAM_VIEWER_SETTINGS: JSON.stringify(settings) },
  });
  const stop = (): boolean => child.kill('SIGTERM');
  signal.addEventListener('abort', stop, { once: true });
  const [code] = (await once(child, 'exit')) as [number | null];
  signal.removeEventListener('abort', stop);
  return code ?? 0;
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const program = buildProgram();
  parseCommandLine(program, argv);
  const raw = program.opts<RawOptions>();
  const settings: ViewerSettings = {
    connections: (raw.connect ?? []).map((endpoint) => ({ endpoint, pattern: raw.pattern, topics: raw.topic ?? [], ...(raw.wire === 'imagezmq' ? { wire: raw.wire } : {}) })),
  };
  return raw.web ? serveWeb(raw, settings, signal) : openWindow(settings, signal);
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
