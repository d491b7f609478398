#!/usr/bin/env node
import { InvalidArgumentError, Option } from 'commander';
import { addCurveOptions, CURVE_HELP, curveSettingsFrom, type CurveFlags } from '../common/cli/curve-options';
import { collectEndpoints, parseDuration, parseEndpointFor, parseAutoOrIntIn, parseIntIn, parseNumberIn, parseTopic } from '../common/cli/values';
import { createProgram, envOption, runCli } from '../common/cli/program';
import { DEFAULTS, type EncoderName, type Wire } from '../common/defaults';
import { addServiceOptions, parseFlags, type ServiceOptionFlags } from '../common/cli/options';
import { checkAndWatchConnectEndpoints } from '../common/cli/connect-endpoints';
import { runService } from '../common/cli/run-service';
import { UsageError } from '../common/errors';
import { createLogger } from '../common/log';
import type { Attachment } from '../common/sockets/socket-options';
import { liveLine } from './sender-stats';
import { defaultTopic } from './topic';
import { FrameStreamer } from './frame-streamer';
import type { SenderOptions } from './sender-options';
import { parseSourceSpec, sourceSlug, SOURCE_SYNTAX } from './sources/source-spec';
import { sizeThreadPool } from './encode/thread-pool';
import type { StripSetting } from './encode/strip-plan';
import { RecordingReplayer, replayLine, type ReplayOptions } from './replay/recording-replayer';
import type { TimeBound } from './sources/recording-source';

const NAME = 'zerocam-sender';

interface RawOptions extends CurveFlags, ServiceOptionFlags {
  source: string;
  pattern: 'pub' | 'push' | 'req';
  wire: Wire;
  replyTimeout: number;
  bind?: string;
  connect?: string[];
  topic?: string;
  width: number;
  height: number;
  fps?: number;
  quality: number;
  resize?: { width: number; height: number };
  jpegOptimise: boolean;
  loop: boolean;
  frames?: number;
  duration?: number;
  hwm: number;
  encodeConcurrency: number;
  strips: StripSetting;
  encoder?: EncoderName;
  passthrough: boolean;
  adapt: boolean;
  minQuality: number;
  speed: number | 'max';
  from?: TimeBound;
  to?: TimeBound;
}

const RECORDING_PREFIX = 'recording:';

function parseSpeed(value: string): number | 'max' {
  if (value.trim() === 'max') return 'max';
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0.01 || n > 1000) throw new InvalidArgumentError('expected max or a number from 0.01 to 1000 (2: twice as fast)');
  return n;
}

/** --from / --to: a date and time (ISO 8601, e.g. 2026-12-04T18:22:00Z), or an offset from the recording's first frame (90s, 1h30m). */
function parseTimeBound(value: string): TimeBound {
  const text = value.trim();
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isFinite(ms)) throw new InvalidArgumentError('expected a date and time such as 2026-12-04T18:22:00Z, or an offset such as 90s');
    return { atUs: ms * 1000 };
  }
  if (text === '0') return { afterStartMs: 0 };
  try {
    return { afterStartMs: parseDuration(text) };
  } catch {
    throw new InvalidArgumentError('expected a date and time such as 2026-12-04T18:22:00Z, or an offset from the recording\'s start such as 90s or 1h30m');
  }
}

function parseSize(value: string): { width: number; height: number } {
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(value);
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width < 1 || height < 1 || width > 65535 || height > 65535) throw new InvalidArgumentError('expected WIDTHxHEIGHT, e.g. 1280x720');
  return { width, height };
}

function buildProgram() {
  return addCurveOptions(addServiceOptions(createProgram(NAME, 'Capture frames, JPEG-encode them and stream them over ZeroMQ.'))
    .addOption(envOption('-s, --source <source>', `where frames come from: ${SOURCE_SYNTAX}, or recording:DIR (a zerocam-receiver --out directory, replayed)`, 'SOURCE').default(DEFAULTS.source))
    .addOption(envOption('--speed <x|max>', 'recording: play at x times its pace; max: as fast as the receivers take frames (push, req: nothing lost)', 'SPEED').argParser(parseSpeed).default(1))
    .addOption(envOption('--from <time>', 'recording: start at this date and time, or this far into it (90s, 1h30m)', 'FROM').argParser(parseTimeBound))
    .addOption(envOption('--to <time>', 'recording: stop before this date and time, or this far into it', 'TO').argParser(parseTimeBound))
    .addOption(envOption('-p, --pattern <pattern>', 'pub (every receiver gets every frame) or push (frames shared out among receivers)', 'PATTERN').choices(['pub', 'push', 'req']).default(DEFAULTS.senderPattern))
    .addOption(envOption('--wire <format>', 'zerocam, or imagezmq (to an imagezmq hub: msg = topic; use with --pattern req or pub)', 'WIRE').choices(['zerocam', 'imagezmq']).default(DEFAULTS.wire))
    .addOption(envOption('--reply-timeout <ms>', 'req: wait this long for each reply, then reopen the socket and go on', 'REPLY_TIMEOUT').argParser(parseIntIn(10, 3_600_000)).default(DEFAULTS.replyTimeoutMs))
    .addOption(envOption('-b, --bind <endpoint>', `endpoint to bind (default ${DEFAULTS.senderBind} unless --connect is given)`, 'BIND').argParser(parseEndpointFor('bind')))
    .addOption(envOption('-c, --connect <endpoint>', 'connect to a receiver that binds, instead of binding (repeatable, or comma-separated)', 'CONNECT').argParser(collectEndpoints).conflicts('bind'))
    .addOption(envOption('-t, --topic <name>', 'stream name (default: HOST-SOURCE)', 'TOPIC').argParser(parseTopic))
    .addOption(envOption('--width <px>', 'testsrc width, or the width asked of a camera', 'WIDTH').argParser(parseIntIn(16, 65535)).default(DEFAULTS.width))
    .addOption(envOption('--height <px>', 'testsrc height, or the height asked of a camera', 'HEIGHT').argParser(parseIntIn(16, 65535)).default(DEFAULTS.height))
    .addOption(envOption('--fps <n>', `frames per second; 0 = as fast as possible (default: ${DEFAULTS.fps}, a file's own rate, a camera's own rate)`, 'FPS').argParser(parseNumberIn(0, 1000)))
    .addOption(envOption('-q, --quality <1-100>', 'JPEG quality', 'QUALITY').argParser(parseIntIn(1, 100)).default(DEFAULTS.quality))
    .addOption(envOption('--resize <WxH>', 'scale frames to fit inside WxH before encoding', 'RESIZE').argParser(parseSize))
    .addOption(envOption('--jpeg-optimise', 'optimise Huffman tables: ~10% smaller camera JPEGs for 2-3x the encode CPU', 'JPEG_OPTIMISE').default(DEFAULTS.jpegOptimiseCoding))
    .addOption(new Option('--loop', 'restart a file source at its end').default(false))
    .addOption(new Option('--frames <n>', 'stop after N frames').argParser(parseIntIn(1, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--duration <seconds>', 'stop after this many seconds').argParser(parseNumberIn(0.001, 1e9)))
    .addOption(envOption('--hwm <frames>', 'frames queued per receiver before skipping', 'HWM').argParser(parseIntIn(1, 1000)).default(DEFAULTS.sendHighWaterMark))
    .addOption(new Option('--encode-concurrency <n>', 'encodes in flight at once when unthrottled').argParser(parseIntIn(1, 64)).default(DEFAULTS.encodeConcurrency))
    .addOption(envOption('--strips <n|auto>', 'encode each frame as N horizontal strips on N cores at once (lower latency); auto: one per core at a camera\'s pace, whole frames when unthrottled', 'STRIPS').argParser(parseAutoOrIntIn(1, 64)).default(DEFAULTS.strips))
    .addOption(
      envOption('--encoder <name>', `JPEG encoder: opencv (cv.imencode, straight from the camera's BGR) or sharp (default: ${DEFAULTS.encoder}, or sharp where the OpenCV addon is not built)`, 'ENCODER')
        .choices(['opencv', 'sharp']),
    )
    .addOption(
      envOption('--passthrough', "send a camera's MJPEG (or an MJPEG file's frames) as they are: no decode, no encode", 'PASSTHROUGH')
        .default(false)
        .conflicts(['quality', 'resize', 'jpegOptimise', 'strips', 'encoder']),
    )
    .addOption(envOption('--adapt', "on a slow link, lower JPEG quality, then size, to keep the frame rate (pub; fits the slowest zerocam receiver's link)", 'ADAPT').default(false).conflicts('passthrough'))
    .addOption(envOption('--min-quality <1-100>', '--adapt lowers quality no further than this, then shrinks frames instead', 'MIN_QUALITY').argParser(parseIntIn(1, 100)).default(DEFAULTS.minQuality))
  )
    .addHelpText(
      'after',
      `
Examples:
  ${NAME}                                       test pattern, PUB on tcp://*:5555
  ${NAME} --source camera:0 --width 1280 --height 720 --fps 30
  ${NAME} --source file:clip.mp4 --loop --topic lab
  ${NAME} --source recording:/srv/frames --pattern req --connect tcp://hub:5555 --speed max   replay, every frame acknowledged
  ${NAME} --source recording:/srv/frames --topic cam1 --from 2026-12-04T18:00:00Z --to 10m --speed 2
  ${NAME} --source /dev/video2 --pattern push --connect tcp://recorder:5556
  ${NAME} --pattern req --connect tcp://recorder:5556        every frame acknowledged (zerocam-receiver --pattern rep)
  ${NAME} --wire imagezmq --pattern req --connect tcp://hub:5555   to an imagezmq ImageHub (recv_jpg)
  ${NAME} --source /dev/video0 --width 1920 --height 1080 --passthrough
  ${NAME} --source camera:0 --width 1280 --height 720 --strips 4
  ${NAME} --source camera:0 --encoder sharp                 encode with sharp (libvips) instead of OpenCV
  ${NAME} --source camera:0 --width 1280 --height 720 --adapt --min-quality 40   over a slow or changing link
  ${NAME} --source camera:0 --curve-key cam1.key --curve-allow viewers/     encrypted; only keys in viewers/*.pub

A PUB sender captures nothing while no one subscribes to its topic (PUSH: while no receiver is connected).
zerocam receivers report what reaches them; the live line then says when a link is the limit
(link-limited: 12 of 30 fps), and --adapt fits the stream to the slowest such link.

${CURVE_HELP}

Every option can also be set as ZEROCAM_<NAME>, e.g. ZEROCAM_SOURCE=camera:0 ZEROCAM_FPS=15.`,
    );
}

export function senderOptionsFrom(raw: RawOptions): SenderOptions {
  if (raw.jpegOptimise && typeof raw.strips === 'number' && raw.strips > 1) {
    throw new UsageError('--jpeg-optimise cannot be combined with --strips above 1: strips need the standard Huffman tables to be joined');
  }
  if (raw.speed !== 1 || raw.from !== undefined || raw.to !== undefined) throw new UsageError('--speed, --from and --to are for --source recording:DIR');
  const source = parseSourceSpec(raw.source);
  const attachment: Attachment = raw.connect?.length ? { connect: raw.connect } : { bind: raw.bind ?? DEFAULTS.senderBind };
  return {
    source,
    pattern: raw.pattern,
    attachment,
    wire: raw.wire,
    replyTimeoutMs: raw.replyTimeout,
    topic: raw.topic ?? defaultTopic(sourceSlug(source)),
    width: raw.width,
    height: raw.height,
    fps: raw.fps,
    loop: raw.loop,
    jpeg: { quality: raw.quality, optimiseCoding: raw.jpegOptimise, resize: raw.resize },
    frames: raw.frames,
    durationS: raw.duration,
    sendHighWaterMark: raw.hwm,
    encodeConcurrency: raw.encodeConcurrency,
    strips: raw.strips,
    ...(raw.encoder === undefined ? {} : { encoder: raw.encoder }),
    passthrough: raw.passthrough,
    adapt: raw.adapt ? { minQuality: Math.min(raw.minQuality, raw.quality) } : undefined,
    curve: curveSettingsFrom(raw),
  };
}

export function replayOptionsFrom(raw: RawOptions): ReplayOptions {
  const dir = raw.source.trim().slice(RECORDING_PREFIX.length);
  if (dir === '') throw new UsageError('--source recording:DIR needs the directory a zerocam-receiver saved to');
  if (raw.passthrough || raw.adapt || raw.resize || raw.fps !== undefined) {
    throw new UsageError('a recording is replayed as it was recorded: drop --passthrough, --adapt, --resize and --fps (use --speed)');
  }
  if (raw.wire === 'imagezmq') throw new UsageError('a recording is replayed in the zerocam wire format (its topics and capture times need it): drop --wire imagezmq');
  return {
    dir,
    selection: { topics: raw.topic === undefined ? [] : [raw.topic], from: raw.from, to: raw.to },
    speed: raw.speed,
    loop: raw.loop,
    pattern: raw.pattern,
    attachment: raw.connect?.length ? { connect: raw.connect } : { bind: raw.bind ?? DEFAULTS.senderBind },
    replyTimeoutMs: raw.replyTimeout,
    sendHighWaterMark: raw.hwm,
    frames: raw.frames,
    durationS: raw.duration,
  };
}

/** --source recording:DIR: the recording goes back on the wire (sender/replay/recording-replayer.ts). */
async function replay(raw: RawOptions, signal: AbortSignal): Promise<number> {
  const log = createLogger(NAME);
  const options = replayOptionsFrom(raw);
  const curve = curveSettingsFrom(raw);
  const hosts = await checkAndWatchConnectEndpoints('connect' in options.attachment ? options.attachment.connect : [], log);
  let replayer: RecordingReplayer | undefined;
  const security = curve ? { curve, log } : undefined;
  try {
    replayer = await RecordingReplayer.open({ ...options, security }, log);
  } catch (error) {
    hosts.close();
    throw error;
  }
  const opened = replayer;
  const summary = await runService(NAME, raw, {
    summary: () => opened.summary(),
    liveLine: replayLine,
    run: () => {
      log.info(
        { event: 'streaming', endpoint: opened.endpoint, topics: opened.topics, pattern: options.pattern, frames: opened.frameCount },
        `replaying ${opened.frameCount} frames of ${opened.topics.join(', ')} from ${options.dir} (${options.pattern}, speed ${options.speed}) on ${opened.endpoint}`,
      );
      return opened.run(signal);
    },
    close: async () => {
      hosts.close();
      await opened.close();
    },
  });
  log.info({ event: 'stopped', frames: summary.frames }, `stopped after ${summary.frames} frames (${summary.passes} pass(es), ${summary.skipped} skipped)`);
  return 0;
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const raw = parseFlags<RawOptions>(buildProgram(), argv);
  if (raw.source.trim().startsWith(RECORDING_PREFIX)) return replay(raw, signal);
  // Nothing has used libuv's pool yet: parsing and logging are synchronous.
  sizeThreadPool(raw.encodeConcurrency);
  const log = createLogger(NAME);
  const options: SenderOptions = {
    ...senderOptionsFrom(raw),
    onIdleChange: (idle) =>
      idle ? log.info({ event: 'idle' }, 'idle: no receivers; capturing nothing until one subscribes') : log.info({ event: 'watched' }, 'a receiver is watching; streaming'),
    onAdapt: ({ quality, scale }) => log.info({ event: 'adapt', quality, scale }, `adapt: quality ${quality}, scale ${scale.toFixed(3)}`),
  };

  const hosts = await checkAndWatchConnectEndpoints('connect' in options.attachment ? options.attachment.connect : [], log);
  const sender = await FrameStreamer.open(options, log).catch((error: unknown) => {
    hosts.close();
    throw error;
  });
  const summary = await runService(NAME, raw, {
    summary: (final) => (final ? sender.stats.final() : sender.stats.live(performance.now())),
    liveLine,
    run: () => {
      log.info(
        { event: 'streaming', endpoint: sender.endpoint, topic: options.topic, pattern: options.pattern, fps: sender.paceFps },
        `streaming ${sender.sourceDescription} as "${options.topic}" (${options.pattern}) on ${sender.endpoint}`,
      );
      return sender.run(signal);
    },
    close: () => {
      hosts.close();
      sender.close();
    },
  });
  log.info({ event: 'stopped' }, `stopped after ${summary.frames} frames (${summary.skipped} skipped)`);
  return 0;
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
