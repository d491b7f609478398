#!/usr/bin/env node
import { once } from 'node:events';
import { join } from 'node:path';
import { Option } from 'commander';
import type { Wire } from '../common/defaults';
import {
  addStreamLimitOptions,
  addWebAccessOptions,
  collectEndpoints,
  createProgram,
  CURVE_HELP,
  curveAllowOption,
  curveKeyOption,
  DEFAULTS,
  envOption,
  healthFileOption,
  socketBufferOption,
  parseCommandLine,
  streamLimitsFrom,
  type StreamLimitFlags,
  parseEndpointFor,
  parseAutoOrIntIn,
  parseIntIn,
  parseNumberIn,
  readWebTls,
  runCli,
  WEB_ACCESS_HELP,
  type WebAccessFlags,
} from '../common/cli';
import type { CurveKeyPair } from '../common/curve-keys';
import type { SocketSecurityOptions } from '../common/curve-security';
import { UsageError } from '../common/errors';
import { HealthFile } from '../common/health-file';
import { FrameForwarder, type ForwarderPattern } from '../common/frame-forwarder';
import { GatewayRoutes } from '../common/http/gateway-routes';
import { HttpServer, type HttpRoutes, type HttpTls } from '../common/http/http-server';
import { createLogger, type Logger } from '../common/log';
import { resolveSenderIntake, type HubSenderPattern, type SenderIntake } from '../common/sender-intake';
import { setNetworkSocketBuffer, type Attachment } from '../common/socket-options';
import type { ReceiverSummary } from '../common/stats/receiver-stats';
import { formatBytesPerSecond, StatsReporter } from '../common/stats/stats-reporter';
import { streamsPart, withBusiestStreams } from '../common/stats/stream-listing';
import { writeSummaryFile } from '../common/stats/write-summary';
import { warnOnFirstRefusal } from '../common/stats/stream-bounds';
import { ViewerLinks, type ViewerLinksSummary } from '../common/viewer-links';
import { StreamCatalog } from '../common/stream-catalog';
import { StreamDiscovery } from '../common/stream-discovery';
import { viewerUiRoutes } from '../common/http/viewer-page-routes';
import type { ViewerSettings } from '../common/viewer/viewer-messages';

const NAME = 'zerocam-hub';

interface RawOptions extends WebAccessFlags, StreamLimitFlags {
  socketBuffer: number;
  curveKey?: CurveKeyPair;
  curveAllowSenders?: ReadonlySet<string>;
  curveAllowReceivers?: ReadonlySet<string>;
  senders: string;
  sendersConnect?: string[];
  senderPattern?: HubSenderPattern;
  senderWire: Wire;
  quality: number;
  receivers: string;
  pattern: ForwarderPattern;
  http?: number;
  discoveryInterval: number;
  httpHost: string;
  statsJson?: string;
  healthFile?: string;
  stats: boolean;
  maxFrameBytes: number;
  hwm: number | 'auto';
}

/**
 * The hub's stats: what it forwards, its receivers, the frames it queues per receiver now (`hwm`), and
 * what its zerocam receivers report of their links (`links`, per stream; plain SUB receivers report nothing).
 */
export type HubSummary = ReceiverSummary & { receivers: number; hwm: number; links: ViewerLinksSummary };

function buildProgram() {
  return addStreamLimitOptions(addWebAccessOptions(createProgram(NAME, 'Forward many zerocam cameras to many receivers through one address, with a last-frame cache and a web gateway.')))
    .addOption(envOption('--senders <endpoint>', 'bind here for senders (they run with --connect)', 'SENDERS').argParser(parseEndpointFor('bind')).default(DEFAULTS.hubSenders))
    .addOption(
      envOption('--senders-connect <endpoints>', 'connect to senders that bind instead (imagezmq PUB senders, zerocam-sender --bind); comma-separated or repeated', 'SENDERS_CONNECT')
        .argParser(collectEndpoints)
        .conflicts('senders'),
    )
    .addOption(
      envOption('--sender-pattern <pattern>', 'what the senders run: pub (pubsub hub), push (pipeline hub) or req (every frame acknowledged "OK" once the hub accepts it)', 'SENDER_PATTERN').choices([
        'pub',
        'push',
        'req',
      ]),
    )
    .addOption(envOption('--sender-wire <format>', "senders' wire format: zerocam, or imagezmq (--sender-pattern req, or pub with --senders-connect)", 'SENDER_WIRE').choices(['zerocam', 'imagezmq']).default(DEFAULTS.wire))
    .addOption(envOption('-q, --quality <1-100>', 'JPEG quality for imagezmq raw images (send_image), encoded once on arrival', 'QUALITY').argParser(parseIntIn(1, 100)).default(DEFAULTS.quality))
    .addOption(envOption('--receivers <endpoint>', 'bind here for receivers and viewers (they --connect as to a sender)', 'RECEIVERS').argParser(parseEndpointFor('bind')).default(DEFAULTS.hubReceivers))
    .addOption(envOption('-p, --pattern <pattern>', 'pubsub (every receiver gets the topics it subscribes to) or pipeline (frames shared out among receivers)', 'HUB_PATTERN').choices(['pubsub', 'pipeline']).default(DEFAULTS.hubPattern))
    .addOption(envOption('--http <port>', 'serve the web gateway (viewer page, MJPEG, snapshots, /streams.json, /metrics) on this port (0 picks one)', 'HTTP').argParser(parseIntIn(0, 65535)))
    .addOption(envOption('--http-host <address>', 'address the web gateway listens on (127.0.0.1 keeps it to this machine)', 'HTTP_HOST').default(DEFAULTS.httpHost))
    .addOption(
      envOption('--discovery-interval <seconds>', `with --http: how often the gateway asks every camera for a frame, to list new ones (default: ${DEFAULTS.hubDiscoveryIntervalMs / 1000})`, 'DISCOVERY_INTERVAL')
        .argParser(parseNumberIn(0.2, 86_400))
        .default(DEFAULTS.hubDiscoveryIntervalMs / 1000, String(DEFAULTS.hubDiscoveryIntervalMs / 1000)),
    )
    .addOption(envOption('--stats-json <file>', 'write a summary as JSON here at exit', 'STATS_JSON'))
    .addOption(healthFileOption())
    .addOption(socketBufferOption())
    .addOption(new Option('--no-stats', 'do not print live stats'))
    .addOption(envOption('--max-frame-bytes <n>', 'reject JPEGs larger than this', 'MAX_FRAME_BYTES').argParser(parseIntIn(1024, 1 << 30)).default(DEFAULTS.maxFrameBytes))
    .addOption(
      envOption('--hwm <frames>', 'frames queued per receiver (all its streams together) before libzmq drops, or the hub skips; auto: 2 per live stream less 2, at least 1', 'HWM')
        .argParser(parseAutoOrIntIn(1, 10_000))
        .default(DEFAULTS.hubSendHighWaterMark),
    )
    .addOption(curveKeyOption())
    .addOption(curveAllowOption('--curve-allow-senders <path>', 'CURVE_ALLOW_SENDERS', 'senders (cameras)'))
    .addOption(curveAllowOption('--curve-allow-receivers <path>', 'CURVE_ALLOW_RECEIVERS', 'receivers and viewers'))
    .addHelpText(
      'after',
      `
Examples:
  ${NAME}                                         senders on tcp://*:5556, receivers on tcp://*:5555
  zerocam-sender --connect tcp://HUB:5556 --topic cam1     on each camera
  zerocam-receiver --connect tcp://HUB:5555 --topic cam1   as if the hub were the camera
  ${NAME} --http 8080                             then open the URL it prints (http://127.0.0.1:8080/?token=...)
  ${NAME} --pattern pipeline                      share frames out among PULL workers
  ${NAME} --hwm 64                                a fixed queue of 64 frames per receiver (default auto)
  ${NAME} --stream-ttl 1h --max-streams 200       forget streams silent for an hour; track 200 at most
  ${NAME} --sender-pattern req                    senders run --pattern req: each frame acknowledged by the hub
  ${NAME} --sender-pattern req --sender-wire imagezmq --senders tcp://*:5555 --receivers tcp://*:5556
                                                     in place of an imagezmq ImageHub (ImageSender connects to :5555)
  ${NAME} --sender-wire imagezmq --senders-connect tcp://pi1:5555,tcp://pi2:5555
                                                     imagezmq PUB senders (REQ_REP=False), which bind
  ${NAME} --curve-key hub.key --curve-allow-senders cameras/ --curve-allow-receivers viewers/
                                                  encrypted; a viewer's key can watch but not publish

Each receiver's queue (--hwm auto) holds a burst of one frame from every live camera and no more,
so a viewer on a slow link misses frames rather than falling behind; the stats' "links" say which
viewers are link-limited (zerocam receivers report it).

Subscriptions travel on to zerocam PUB senders, so a camera nobody watches idles. REQ, PUSH and
imagezmq senders cannot be told, so they always send. With --http the gateway asks for a stream
only while it serves it (an MJPEG client, a snapshot, the page), and for every stream for a moment
each --discovery-interval, so it lists new cameras and keeps a recent frame of each; in between,
cameras nobody watches idle.

Per-stream state (stats, the cached frame, metrics series) is bounded: a stream that sends nothing
for --stream-ttl is forgotten, and past --max-streams streams, frames of new ones are refused (not
forwarded) and counted as refused.

The hub is the CURVE server on both sides, each with its own allowlist; senders and receivers
connect with --curve-server hub.pub.
${CURVE_HELP}

${WEB_ACCESS_HELP}

Every option can also be set as ZEROCAM_<NAME>, e.g. ZEROCAM_HTTP=8080 ZEROCAM_RECEIVERS=tcp://*:6000.`,
    );
}

/** Where a local client reaches a bound endpoint: tcp://*:P and tcp://0.0.0.0:P become loopback. */
function localEndpoint(bound: string): string {
  return bound.replace(/^tcp:\/\/(\*|0\.0\.0\.0):/, 'tcp://127.0.0.1:').replace(/^tcp:\/\/\[(::|\*)\]:/, 'tcp://[::1]:');
}

function describeSenders(intake: SenderIntake, wire: Wire, senders: Attachment, bound: string): string {
  const who = `${intake.kind === 'rep' ? 'REQ ' : ''}${wire === 'imagezmq' ? 'imagezmq ' : ''}senders`;
  const where = 'connect' in senders ? `at ${senders.connect.join(', ')}` : `on ${bound}`;
  return `${who} ${where}${intake.kind === 'rep' ? ' (each frame acknowledged)' : ''}`;
}

/**
 * The slowest link-limited viewer of each stream, e.g. ` | link-limited viewers: cam1 8 of 30 fps (120 skipped)`;
 * past DEFAULTS.statsLineStreams of them, the first few and how many more.
 */
function limitedViewersPart(links: ViewerLinksSummary): string {
  const limited = Object.entries(links.streams).filter(([, link]) => link.limited);
  if (limited.length === 0) return '';
  const shown = limited.slice(0, limited.length <= DEFAULTS.statsLineStreams ? limited.length : 3);
  const each = shown.map(([topic, link]) => `${topic} ${Math.round(link.deliveredFps)} of ${Math.round(link.offeredFps)} fps (${link.skipped} skipped)`);
  const more = limited.length - shown.length;
  return ` | link-limited viewers: ${each.join(', ')}${more > 0 ? ` +${more} more` : ''}`;
}

/** One line however many streams: totals, and each stream's fps only while there are few (stream-listing.ts). */
export function liveLine(s: HubSummary): string {
  const oldest = Object.values(s.streams).reduce((max, x) => Math.max(max, x.lastFrameAgeMs ?? 0), 0);
  const streams = streamsPart(s.streams, s.streamCount);
  return (
    `${s.streamCount} streams${streams ? ` (${streams})` : ''} → ${s.receivers} receivers | ${s.fps.toFixed(1)} fps ${formatBytesPerSecond(s.bytesPerSecond)}` +
    ` | frames ${s.frames} dropped ${s.dropped} skipped ${s.skipped} rejected ${s.rejected}${s.denied ? ` denied ${s.denied}` : ''}` +
    `${s.refused ? ` refused ${s.refused}` : ''}${s.forgotten ? ` forgotten ${s.forgotten}` : ''} | oldest frame ${(oldest / 1000).toFixed(1)} s` +
    limitedViewersPart(s.links)
  );
}

/** A live JSON stats line: the busiest streams (and viewer links, link-limited first) of many, with their counts. */
function jsonRecord(s: HubSummary): HubSummary {
  const links = Object.entries(s.links.streams);
  if (links.length <= DEFAULTS.statsJsonStreams) return withBusiestStreams(s);
  const limitedFirst = links.sort(([, a], [, b]) => Number(b.limited) - Number(a.limited)).slice(0, DEFAULTS.statsJsonStreams);
  return { ...withBusiestStreams(s), links: { ...s.links, streams: Object.fromEntries(limitedFirst) } };
}

async function startHttp(raw: RawOptions & { http: number }, tls: HttpTls | undefined, routes: HttpRoutes[], log: Logger): Promise<HttpServer> {
  try {
    return await HttpServer.start({ host: raw.httpHost, port: raw.http, routes, log, token: raw.token, allowedHosts: raw.allowedHost, tls });
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new UsageError(`cannot serve HTTP on ${raw.httpHost}:${raw.http}: ${code === 'EADDRINUSE' ? 'address already in use' : String(error)}`);
  }
}

/**
 * CURVE on both of the hub's sockets, each with its own ZAP domain and allowlist, so a camera's key
 * can publish and a viewer's key can only watch. The hub's own page watches through the receivers'
 * socket with the hub's key, so that key is on the receivers' list too.
 */
function hubSecurity(raw: RawOptions, log: Logger, onDenied: () => void): { sendersSecurity?: SocketSecurityOptions; receiversSecurity?: SocketSecurityOptions } {
  if (raw.curveKey === undefined && raw.curveAllowSenders === undefined && raw.curveAllowReceivers === undefined) return {};
  const receiversAllowed = raw.curveAllowReceivers && raw.curveKey ? new Set([...raw.curveAllowReceivers, raw.curveKey.publicKey]) : raw.curveAllowReceivers;
  return {
    sendersSecurity: { curve: { key: raw.curveKey, allow: raw.curveAllowSenders }, log, zapDomain: 'senders', onDenied },
    receiversSecurity: { curve: { key: raw.curveKey, allow: receiversAllowed }, log, zapDomain: 'receivers', onDenied },
  };
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const program = buildProgram();
  parseCommandLine(program, argv);
  const raw = program.opts<RawOptions>();
  setNetworkSocketBuffer(raw.socketBuffer);
  const tls = raw.http === undefined ? undefined : await readWebTls(raw);
  const log = createLogger(NAME);
  const catalog = new StreamCatalog(DEFAULTS.viewerStallMs, streamLimitsFrom(raw));
  warnOnFirstRefusal(catalog.stats.bounds, (message) => log.warn({ event: 'refused' }, message));
  const links = new ViewerLinks(catalog);
  const warned = new Set<string>();
  const senders: Attachment = raw.sendersConnect ? { connect: raw.sendersConnect } : { bind: raw.senders };
  const intake = resolveSenderIntake({ pattern: raw.pattern, senderPattern: raw.senderPattern, wire: raw.senderWire, senders });
  const forwarder = await FrameForwarder.open({
    ...hubSecurity(raw, log, () => catalog.stats.denied++),
    pattern: raw.pattern,
    senders,
    intake,
    quality: raw.quality,
    receivers: raw.receivers,
    catalog,
    maxFrameBytes: raw.maxFrameBytes,
    sendHighWaterMark: raw.hwm,
    onLinkReport: (message) => links.onMessage(message, Date.now()),
    onRejected: (error) => {
      if (warned.has(error.reason)) return;
      warned.add(error.reason);
      log.warn(`dropped a malformed message (${error.reason}): ${error.message}; further ones are only counted`);
    },
    onPeerCutOff: (endpoint) => log.warn({ event: 'redialled', endpoint }, `the connection to ${endpoint} was cut off (an oversized message); dialled it again`),
  });
  const summary = (final: boolean): HubSummary => {
    const now = Date.now();
    return { ...(final ? catalog.stats.final(now) : catalog.stats.live(now)), receivers: forwarder.receivers, hwm: forwarder.sendHighWaterMark, links: links.summary(now) };
  };
  const reporter = new StatsReporter(process.stdout, DEFAULTS.statsIntervalMs, () => {
    const record = summary(false);
    return { record: jsonRecord(record), line: liveLine(record) };
  });
  let http: HttpServer | undefined;
  let discovery: StreamDiscovery | undefined;
  const health = HealthFile.start(raw.healthFile, NAME);
  try {
    if (raw.http !== undefined) {
      // The page watches the hub as any viewer would: through its receivers' socket (pubsub only; a PULL would take frames from the workers).
      const settings: ViewerSettings = {
        connections:
          raw.pattern === 'pubsub'
            ? [{ endpoint: localEndpoint(forwarder.receiversEndpoint), pattern: 'sub', topics: [], ...(raw.curveKey ? { serverKey: raw.curveKey.publicKey } : {}) }]
            : [],
      };
      // The gateway asks for a stream only while someone uses it, so cameras nobody watches idle;
      // a short pulse now and then lists the streams it has not seen yet.
      const intervalMs = raw.discoveryInterval * 1000;
      discovery = new StreamDiscovery((prefix) => forwarder.demand(prefix), { intervalMs, pulseMs: Math.min(DEFAULTS.hubDiscoveryPulseMs, intervalMs / 2) });
      // Its sockets use the hub's own key, which the receivers' allowlist admits (hubSecurity).
      const ui = await viewerUiRoutes({
        rendererDir: join(__dirname, '..', 'electron', 'renderer'),
        settings,
        log,
        curveKey: raw.curveKey,
        allowIpc: raw.allowIpc,
        streamLimits: streamLimitsFrom(raw),
      });
      const onDemand = { demand: (prefix: string) => forwarder.demand(prefix), isWatched: (topic: string) => forwarder.isWatched(topic) };
      http = await startHttp({ ...raw, http: raw.http }, tls, [ui, new GatewayRoutes(catalog, { receivers: () => forwarder.receivers }, onDemand)], log);
      log.info(
        { event: 'serving', url: http.pageUrl },
        `web gateway at ${http.pageUrl} (${http.tokenHint}; streams.json, snapshot/TOPIC.jpg, stream/TOPIC.mjpeg, metrics)`,
      );
    }
    log.info(
      { event: 'forwarding', senders: forwarder.sendersEndpoint, receivers: forwarder.receiversEndpoint, pattern: raw.pattern, intake: intake.kind, senderWire: raw.senderWire },
      `forwarding (${raw.pattern}) from ${describeSenders(intake, raw.senderWire, senders, forwarder.sendersEndpoint)} to receivers on ${forwarder.receiversEndpoint}`,
    );
    if (raw.stats) reporter.start();
    const running = forwarder.run();
    const stop = once(signal, 'abort');
    await Promise.race([running, signal.aborted ? Promise.resolve() : stop]);
  } finally {
    health?.close();
    discovery?.close();
    reporter.close();
    forwarder.close();
    await http?.close();
  }
  const final = summary(true);
  if (raw.statsJson) await writeSummaryFile(raw.statsJson, final);
  log.info(
    `stopped after forwarding ${final.frames} frames from ${final.streamCount + final.forgotten} streams (${final.rejected} rejected` +
      `${final.refused ? `, ${final.refused} of new streams refused` : ''}${final.forgotten ? `; ${final.forgotten} streams forgotten` : ''})`,
  );
  return 0;
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
