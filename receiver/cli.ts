#!/usr/bin/env node
import { Option } from 'commander';
import { addCurveOptions, CURVE_HELP, curveSettingsFrom, type CurveFlags } from '../common/cli/curve-options';
import { collectEndpoints, collectTopics, parseByteSize, parseDuration, parseEndpointFor, parseIntIn, parseNumberIn } from '../common/cli/values';
import { createProgram, envOption, runCli } from '../common/cli/program';
import { DEFAULTS, type RecordFormat, type Wire } from '../common/defaults';
import { addServiceOptions, addStreamLimitOptions, parseFlags, streamLimitsFrom, type ServiceOptionFlags, type StreamLimitFlags } from '../common/cli/options';
import { checkAndWatchConnectEndpoints } from '../common/cli/connect-endpoints';
import { runService } from '../common/cli/run-service';
import { UsageError } from '../common/errors';
import { createLogger } from '../common/log';
import type { Attachment } from '../common/sockets/socket-options';
import type { ReceiverSummary } from '../common/stats/receiver-stats';
import type { StreamSummary } from '../common/stats/stream-stats';
import { formatBytesPerSecond } from '../common/stats/stats-reporter';
import { streamsPart, withBusiestStreams } from '../common/stats/stream-listing';
import { Receiver, type ReceiverOptions } from './receiver';

const NAME = 'zerocam-receiver';

interface RawOptions extends CurveFlags, ServiceOptionFlags, StreamLimitFlags {
  pattern: 'sub' | 'pull' | 'rep';
  wire: Wire;
  quality: number;
  connect?: string[];
  bind?: string;
  topic?: string[];
  out?: string;
  every: number;
  maxFiles?: number;
  fsync: boolean;
  format: RecordFormat;
  segmentSeconds: number;
  maxBytes?: number;
  maxAge?: number;
  saveQueue: number;
  fsyncInterval: number;
  frames?: number;
  duration?: number;
  maxFrameBytes: number;
  hwm: number;
  results?: string;
}

function buildProgram() {
  return addStreamLimitOptions(addCurveOptions(addServiceOptions(createProgram(NAME, 'Receive zerocam streams headless: live stats, and frames saved to disk.'))
    .addOption(envOption('-p, --pattern <pattern>', 'sub (for a pub sender), pull (for a push sender) or rep (for a req sender: every frame acknowledged, after it is saved)', 'PATTERN').choices(['sub', 'pull', 'rep']).default(DEFAULTS.receiverPattern))
    .addOption(envOption('--wire <format>', 'zerocam, or imagezmq (from imagezmq senders: --pattern rep or sub)', 'WIRE').choices(['zerocam', 'imagezmq']).default(DEFAULTS.wire))
    .addOption(envOption('-q, --quality <1-100>', 'JPEG quality for imagezmq raw images (send_image), encoded once on arrival', 'QUALITY').argParser(parseIntIn(1, 100)).default(DEFAULTS.quality))
    .addOption(envOption('-c, --connect <endpoint>', `sender(s) to connect to, repeatable or comma-separated (default ${DEFAULTS.receiverConnect})`, 'CONNECT').argParser(collectEndpoints))
    .addOption(envOption('-b, --bind <endpoint>', 'bind here instead, for senders that --connect', 'BIND').argParser(parseEndpointFor('bind')).conflicts('connect'))
    .addOption(envOption('-t, --topic <name>', 'only these streams (repeatable or comma-separated; default: all)', 'TOPIC').argParser(collectTopics))
    .addOption(envOption('-o, --out <dir>', 'save every frame here (--format), each listed in index.jsonl', 'OUT'))
    .addOption(envOption('--format <format>', 'jpeg: TOPIC/SESSION-SEQ.jpg per frame; segments: TOPIC/SESSION-FIRSTSEQ.mkv video files (MJPEG, the JPEGs unchanged)', 'FORMAT').choices(['jpeg', 'segments']).default(DEFAULTS.recordFormat))
    .addOption(envOption('--segment-seconds <s>', 'segments: capture time each video file covers', 'SEGMENT_SECONDS').argParser(parseNumberIn(1, 86_400)).default(DEFAULTS.segmentSeconds))
    .addOption(envOption('--max-bytes <size>', 'keep the recording under this size (500M, 20G): the oldest whole files go first', 'MAX_BYTES').argParser(parseByteSize))
    .addOption(envOption('--max-age <duration>', 'remove files whose newest frame is older than this (90s, 12h, 7d)', 'MAX_AGE').argParser(parseDuration))
    .addOption(envOption('--save-queue <n>', 'frames waiting for the disk, all streams together; when full the oldest waiting one is skipped', 'SAVE_QUEUE').argParser(parseIntIn(1, 100_000)).default(DEFAULTS.saveQueueFrames))
    .addOption(envOption('--fsync-interval <ms>', 'one fsync commits every frame written in this window (0: each frame on its own); frames count as saved after it', 'FSYNC_INTERVAL').argParser(parseIntIn(0, 60_000)).default(DEFAULTS.fsyncIntervalMs))
    .addOption(envOption('--every <n>', 'save only every Nth frame of each stream', 'EVERY').argParser(parseIntIn(1, 1_000_000)).default(DEFAULTS.saveEvery))
    .addOption(envOption('--max-files <n>', 'jpeg: keep only the newest N frames saved by this run (a ring)', 'MAX_FILES').argParser(parseIntIn(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--no-fsync', 'do not fsync frames before reporting them saved (faster, not crash-safe)').default(DEFAULTS.fsync))
    .addOption(new Option('--frames <n>', 'stop after N frames').argParser(parseIntIn(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--duration <seconds>', 'stop after this many seconds').argParser(parseNumberIn(0.001, 1e9)))
    .addOption(envOption('--max-frame-bytes <n>', 'reject JPEGs larger than this', 'MAX_FRAME_BYTES').argParser(parseIntIn(1024, 1 << 30)).default(DEFAULTS.maxFrameBytes))
    .addOption(envOption('--hwm <frames>', 'frames queued per sender before libzmq drops', 'HWM').argParser(parseIntIn(1, 1000)).default(DEFAULTS.receiveHighWaterMark))
    .addOption(envOption('--results <endpoint>', "with --out: a hub's --results endpoint; each result is appended to results.jsonl, joined to its frame's file", 'RESULTS').argParser(parseEndpointFor('connect')))))
    .addHelpText(
      'after',
      `
Examples:
  ${NAME}                                              all streams from tcp://127.0.0.1:5555
  ${NAME} --connect tcp://camhost:5555 --out recordings
  ${NAME} --connect tcp://camhost:5555 --out recordings --format segments --max-bytes 200G --max-age 14d
  ${NAME} --connect tcp://cam1:5555,tcp://cam2:5555 --topic cam1 --every 10 --max-files 10000
  ${NAME} --pattern pull --bind tcp://*:5556 --out /srv/frames
  ${NAME} --pattern rep --bind tcp://*:5556 --out /srv/frames      acknowledged: a sender's reply means saved
  ${NAME} --wire imagezmq --pattern rep --bind tcp://*:5555 --out pi   in place of an imagezmq ImageHub
  ${NAME} --connect tcp://camhost:5555 --curve-server cam1.pub --curve-key recorder.key --out recordings

${CURVE_HELP}

Every option can also be set as ZEROCAM_<NAME>, e.g. ZEROCAM_CONNECT=tcp://camhost:5555 ZEROCAM_OUT=/srv/frames.`,
    );
}

export function receiverOptionsFrom(raw: RawOptions): ReceiverOptions {
  if (raw.maxFiles !== undefined && raw.format === 'segments') throw new UsageError('--max-files counts JPEG files; with --format segments use --max-bytes or --max-age');
  const attachment: Attachment = raw.bind ? { bind: raw.bind } : { connect: raw.connect?.length ? raw.connect : [DEFAULTS.receiverConnect] };
  return {
    pattern: raw.pattern,
    attachment,
    wire: raw.wire,
    quality: raw.quality,
    topics: raw.topic ?? [],
    out: raw.out,
    every: raw.every,
    maxFiles: raw.maxFiles,
    fsync: raw.fsync,
    format: raw.format,
    segmentSeconds: raw.segmentSeconds,
    maxBytes: raw.maxBytes,
    maxAgeMs: raw.maxAge,
    saveQueue: raw.saveQueue,
    fsyncIntervalMs: raw.fsyncInterval,
    frames: raw.frames,
    durationS: raw.duration,
    maxFrameBytes: raw.maxFrameBytes,
    receiveHighWaterMark: raw.hwm,
    curve: curveSettingsFrom(raw),
    streamLimits: streamLimitsFrom(raw),
    results: raw.results,
  };
}

function liveLine(s: ReceiverSummary & { results?: number; resultsDropped?: number }): string {
  const topics = Object.keys(s.streams);
  const only = s.streamCount === 1 && topics.length === 1 ? s.streams[topics[0]!] : undefined;
  const listed = streamsPart(s.streams, s.streamCount);
  const what = only ? `${topics[0]} ${only.width}x${only.height}` : `${s.streamCount} streams${listed ? ` (${listed})` : ''}`;
  const { p50, p95, p99 } = s.latencyMs;
  const latency = s.latencyFrames === 0 ? 'latency unknown' : `latency p50 ${p50.toFixed(1)} p95 ${p95.toFixed(1)} p99 ${p99.toFixed(1)} ms ${clockNote(s, only)}`;
  return (
    `${what} | ${s.fps.toFixed(1)} fps ${formatBytesPerSecond(s.bytesPerSecond)} | ${latency}` +
    ` | frames ${s.frames} dropped ${s.dropped} skipped ${s.skipped} rejected ${s.rejected}` +
    (s.saved || s.saveErrors ? ` saved ${s.saved}` : '') +
    (s.saveErrors ? ` save errors ${s.saveErrors}` : '') +
    (s.peerCutOffs ? ` cut-offs ${s.peerCutOffs}` : '') +
    (s.denied ? ` denied ${s.denied}` : '') +
    (s.results !== undefined ? ` results ${s.results}${s.resultsDropped ? ` (${s.resultsDropped} dropped)` : ''}` : '') +
    (s.refused ? ` refused ${s.refused}` : '') +
    (s.forgotten ? ` forgotten ${s.forgotten}` : '')
  );
}

/** Whether the latency is corrected for the senders' clocks, and by how much (one stream), or "uncorrected". */
function clockNote(s: ReceiverSummary, only: StreamSummary | undefined): string {
  if (!s.latencyCorrected) return '(uncorrected)';
  if (!only || only.clockOffsetMs === null || only.clockUncertaintyMs === null) return '(corrected)';
  const sign = only.clockOffsetMs < 0 ? '-' : '+';
  return `(corrected, clock ${sign}${Math.abs(only.clockOffsetMs).toFixed(1)} ±${only.clockUncertaintyMs.toFixed(2)} ms)`;
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const raw = parseFlags<RawOptions>(buildProgram(), argv);
  if (raw.results !== undefined && raw.out === undefined) throw new UsageError('--results needs --out: results are appended to OUT/results.jsonl');
  const options = receiverOptionsFrom(raw);
  const log = createLogger(NAME);

  const hosts = await checkAndWatchConnectEndpoints('connect' in options.attachment ? options.attachment.connect : [], log);
  const receiver = await Receiver.open(options, log).catch((error: unknown) => {
    hosts.close();
    throw error;
  });
  const summary = await runService(NAME, raw, {
    summary: (final) => ({ ...(final ? receiver.stats.final(Date.now()) : receiver.stats.live(Date.now())), ...receiver.resultCounts }),
    liveLine,
    jsonRecord: (record) => withBusiestStreams(record),
    run: () => {
      const where = 'bind' in options.attachment ? `bound to ${receiver.endpoint}` : `connecting to ${options.attachment.connect.join(', ')}`;
      log.info({ event: 'receiving', endpoint: receiver.endpoint, pattern: options.pattern }, `receiving (${options.pattern}) ${where}${options.out ? `, saving to ${options.out}` : ''}`);
      return receiver.run(signal);
    },
    close: async () => {
      hosts.close();
      await receiver.close();
    },
  });
  log.info(`stopped after ${summary.frames} frames: ${summary.saved} saved, ${summary.dropped} dropped, ${summary.skipped} skipped, ${summary.rejected} rejected`);
  return 0;
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
