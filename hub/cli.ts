#!/usr/bin/env -S node --max-semi-space-size=2
// A young generation of 2 MB semi-spaces (V8's default grows to 16): the hub allocates little on V8's heap
// per frame, so with the default no scavenge runs for seconds, and the JPEG buffers it received (external
// memory, which counts towards the old generation's limit) were freed only by full mark-compacts, every
// ~0.6 s with --workers. With 2 MB they die in cheap scavenges: ~9% less hub CPU per frame, a third less
// on its helper threads (measured with a worker at 100 fps, and forwarding 4 cameras to 4 receivers at 720p30).
// deploy/systemd/zerocam-hub.service starts node with it too.
import { addWebAccessOptions, readWebTls, WEB_ACCESS_HELP, type WebAccessFlags } from '../common/cli/web-options';
import { collectEndpoints, collectTopics, parseEndpointFor, parseAutoOrIntIn, parseIntIn, parseNumberIn } from '../common/cli/values';
import { createProgram, envOption, runCli } from '../common/cli/program';
import { CURVE_HELP, curveAllowOption, curveKeyOption } from '../common/cli/curve-options';
import { DEFAULTS, type Wire, type WorkMode } from '../common/defaults';
import { addServiceOptions, addStreamLimitOptions, parseFlags, streamLimitsFrom, type ServiceOptionFlags, type StreamLimitFlags } from '../common/cli/options';
import { runService } from '../common/cli/run-service';
import { createLogger } from '../common/log';
import type { CurveKeyPair } from '../common/sockets/curve-keys';
import type { Attachment } from '../common/sockets/socket-options';
import { Hub, type HubHttpOptions } from './hub';
import { jsonRecord, liveLine } from './hub-stats';
import type { ForwarderPattern, HubSenderPattern, SenderIntake } from './hub-types';

const NAME = 'zerocam-hub';

interface RawOptions extends WebAccessFlags, ServiceOptionFlags, StreamLimitFlags {
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
  maxFrameBytes: number;
  hwm: number | 'auto';
  curveAllowWorkers?: ReadonlySet<string>;
  workers?: string;
  results: string;
  workMode: WorkMode;
  workTopics?: string[];
  workEvery: number;
  affinity: 'none' | 'stream';
  workTimeout: number;
  workQueue: number;
  workHeartbeat: number;
}

function buildProgram() {
  return addStreamLimitOptions(addWebAccessOptions(addServiceOptions(createProgram(NAME, 'Forward many zerocam cameras to many receivers through one address, with a last-frame cache and a web gateway.'))))
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
      envOption('--discovery-interval <seconds>', 'with --http: how often the gateway asks every camera for a frame, to list new ones', 'DISCOVERY_INTERVAL')
        .argParser(parseNumberIn(0.2, 86_400))
        .default(DEFAULTS.hubDiscoveryIntervalMs / 1000, String(DEFAULTS.hubDiscoveryIntervalMs / 1000)),
    )
    .addOption(envOption('--max-frame-bytes <n>', 'reject JPEGs larger than this', 'MAX_FRAME_BYTES').argParser(parseIntIn(1024, 1 << 30)).default(DEFAULTS.maxFrameBytes))
    .addOption(
      envOption('--hwm <frames>', 'frames queued per receiver (all its streams together) before libzmq drops, or the hub skips; set at start; auto: 10 (a burst from up to 6 cameras; N cameras need 2N-2), 32 with --pattern pipeline', 'HWM')
        .argParser(parseAutoOrIntIn(1, 10_000))
        .default(DEFAULTS.hubSendHighWaterMark),
    )
    .addOption(curveKeyOption())
    .addOption(curveAllowOption('--curve-allow-senders <path>', 'CURVE_ALLOW_SENDERS', 'senders (cameras)'))
    .addOption(curveAllowOption('--curve-allow-receivers <path>', 'CURVE_ALLOW_RECEIVERS', 'receivers and viewers'))
    .addOption(curveAllowOption('--curve-allow-workers <path>', 'CURVE_ALLOW_WORKERS', 'workers (--workers)'))
    .addOption(envOption('--workers <endpoint>', 'bind here for zerocam-worker processes (they --connect): frames are handed to workers with room, results published on --results', 'WORKERS').argParser(parseEndpointFor('bind')))
    .addOption(envOption('--results <endpoint>', 'with --workers: bind here for receivers and viewers of results (they subscribe by topic)', 'RESULTS').argParser(parseEndpointFor('bind')).default(DEFAULTS.hubResults))
    .addOption(envOption('--work-mode <mode>', 'live: an idle worker gets the newest frame, the rest are skipped; every: each frame processed exactly once, with back-pressure to the senders', 'WORK_MODE').choices(['live', 'every']).default(DEFAULTS.workMode))
    .addOption(envOption('--work-topics <topics>', 'process only these streams (exact topics; comma-separated or repeated)', 'WORK_TOPICS').argParser(collectTopics))
    .addOption(envOption('--work-every <n>', 'process one frame in N of each stream', 'WORK_EVERY').argParser(parseIntIn(1, 1_000_000)).default(1))
    .addOption(envOption('--affinity <kind>', 'stream: keep each stream on one worker while it lives (for processors with state, such as motion)', 'AFFINITY').choices(['none', 'stream']).default('none'))
    .addOption(envOption('--work-timeout <ms>', 'a frame out at a worker this long is counted as a timeout; every: handed to another worker', 'WORK_TIMEOUT').argParser(parseIntIn(10, 3_600_000)).default(DEFAULTS.workTimeoutMs))
    .addOption(envOption('--work-queue <frames>', 'every: frames the hub holds for processing before it holds back its senders', 'WORK_QUEUE').argParser(parseIntIn(1, 10_000)).default(DEFAULTS.workQueueFrames))
    .addOption(envOption('--work-heartbeat <ms>', 'heartbeat interval with workers; a worker silent for 3 is given up', 'WORK_HEARTBEAT').argParser(parseIntIn(10, 60_000)).default(DEFAULTS.workHeartbeatMs))
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
  ${NAME} --workers tcp://*:5557                  frames to zerocam-worker processes, results on tcp://*:5558
  ${NAME} --workers tcp://*:5557 --work-mode every --sender-pattern req
                                                  every frame processed once; each REQ sender held back while the hub is full

Each receiver's queue (--hwm, fixed at start) is small, so a viewer on a slow link misses frames
rather than falling behind. 2N-2 frames hold a burst of one frame from each of N cameras; auto is 10
(up to 6 cameras; the hub warns when more are live), --hwm 1 suits one camera. The stats' "links"
say which viewers are link-limited (zerocam receivers report it).

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

function describeSenders(intake: SenderIntake, wire: Wire, senders: Attachment, bound: string): string {
  const who = `${intake.kind === 'rep' ? 'REQ ' : ''}${wire === 'imagezmq' ? 'imagezmq ' : ''}senders`;
  const where = 'connect' in senders ? `at ${senders.connect.join(', ')}` : `on ${bound}`;
  return `${who} ${where}${intake.kind === 'rep' ? ' (each frame acknowledged)' : ''}`;
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const raw = parseFlags<RawOptions>(buildProgram(), argv);
  const log = createLogger(NAME);
  const senders: Attachment = raw.sendersConnect ? { connect: raw.sendersConnect } : { bind: raw.senders };
  const http: HubHttpOptions | undefined =
    raw.http === undefined
      ? undefined
      : {
          host: raw.httpHost,
          port: raw.http,
          token: raw.token,
          allowedHosts: raw.allowedHost,
          tls: await readWebTls(raw),
          allowIpc: raw.allowIpc,
          discoveryIntervalMs: raw.discoveryInterval * 1000,
        };
  const work = raw.workers
    ? {
        workers: raw.workers,
        results: raw.results,
        mode: raw.workMode,
        topics: raw.workTopics,
        every: raw.workEvery,
        affinity: raw.affinity === 'stream',
        timeoutMs: raw.workTimeout,
        queueFrames: raw.workQueue,
        heartbeatMs: raw.workHeartbeat,
      }
    : undefined;
  const hub = await Hub.open({ ...raw, senders, http, work, streamLimits: streamLimitsFrom(raw) }, log);
  const announce = (): void => {
    if (hub.http) {
      log.info(
        { event: 'serving', url: hub.http.pageUrl },
        `web gateway at ${hub.http.pageUrl} (${hub.http.tokenHint}; streams.json, snapshot/TOPIC.jpg, stream/TOPIC.mjpeg, metrics)`,
      );
    }
    log.info(
      { event: 'forwarding', senders: hub.sendersEndpoint, receivers: hub.receiversEndpoint, pattern: raw.pattern, intake: hub.intake.kind, senderWire: raw.senderWire },
      `forwarding (${raw.pattern}) from ${describeSenders(hub.intake, raw.senderWire, senders, hub.sendersEndpoint)} to receivers on ${hub.receiversEndpoint}`,
    );
    const endpoints = hub.workEndpoints;
    if (endpoints) {
      log.info(
        { event: 'working', workers: endpoints.workers, results: endpoints.results, mode: raw.workMode },
        `handing frames to workers on ${endpoints.workers} (${raw.workMode}${raw.affinity === 'stream' ? ', stream affinity' : ''}), results on ${endpoints.results}`,
      );
    }
  };
  const final = await runService(NAME, raw, {
    summary: (last) => hub.summary(last),
    liveLine,
    jsonRecord,
    // Announced once the health file exists: whoever waits for these lines may check it at once.
    run: () => {
      announce();
      return hub.run(signal);
    },
    close: () => hub.close(),
  });
  log.info(
    `stopped after forwarding ${final.frames} frames from ${final.streamCount + final.forgotten} streams (${final.rejected} rejected` +
      `${final.refused ? `, ${final.refused} of new streams refused` : ''}${final.forgotten ? `; ${final.forgotten} streams forgotten` : ''})`,
  );
  return 0;
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
