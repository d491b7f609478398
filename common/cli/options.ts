import { Option, type Command } from 'commander';
import { DEFAULTS } from '../defaults';
import { setNetworkSocketBuffer } from '../sockets/socket-options';
import { envOption, parseCommandLine } from './program';
import type { ServiceFlags } from './run-service';
import type { StreamLimits } from '../stats/stream-bounds';
import { parseDurationIn, parseIntIn } from './values';

/** --health-file, which every long-running program offers the same way (common/cli/health-file.ts). */
export function healthFileOption(): Option {
  return envOption('--health-file <path>', 'rewrite this file every second while running, for health checks', 'HEALTH_FILE');
}

/**
 * --socket-buffer, which every program that opens sockets offers the same way; apply the parsed
 * value with setNetworkSocketBuffer (common/sockets/socket-options.ts) before opening any. Its help names
 * no default: commander adds "(default: ...)" from .default().
 */
export function socketBufferOption(): Option {
  return envOption(
    '--socket-buffer <bytes>',
    `kernel send/receive buffer of each network socket (not ipc or loopback): small bounds the lag on a slow link, but caps a connection at about twice this per round trip; raise it for a fast link with a long round trip, 0 for the kernel's own sizing`,
    'SOCKET_BUFFER',
  )
    .argParser(parseIntIn(0, 64 * 1024 * 1024))
    .default(DEFAULTS.socketBufferBytes, String(DEFAULTS.socketBufferBytes));
}

/** The flags of a long-running program, which runService (run-service.ts) and parseFlags read. */
export interface ServiceOptionFlags extends ServiceFlags {
  socketBuffer: number;
}

/** --stats-json, --health-file, --socket-buffer and --no-stats, the same on every long-running program. */
export function addServiceOptions(program: Command): Command {
  return program
    .addOption(envOption('--stats-json <file>', 'write a summary as JSON here at exit', 'STATS_JSON'))
    .addOption(healthFileOption())
    .addOption(socketBufferOption())
    .addOption(new Option('--no-stats', 'do not print live stats'));
}

/** The program's flags from argv, with --socket-buffer applied before any socket opens. */
export function parseFlags<T extends { socketBuffer: number }>(program: Command, argv: readonly string[]): T {
  parseCommandLine(program, argv);
  const flags = program.opts<T>();
  setNetworkSocketBuffer(flags.socketBuffer);
  return flags;
}

/** --stream-ttl and --max-streams, which every program that keeps per-stream state offers the same way. */
export function addStreamLimitOptions(program: Command): Command {
  return program
    .addOption(
      envOption('--stream-ttl <duration>', 'forget a stream (its stats, cached frame, metrics) once it has sent nothing for this long: 300s, 5m, 1h', 'STREAM_TTL')
        .argParser(parseDurationIn(100, 365 * 24 * 3_600_000))
        .default(DEFAULTS.streamTtlMs, `${DEFAULTS.streamTtlMs / 60_000}m`),
    )
    .addOption(
      envOption('--max-streams <n>', 'track at most this many streams; frames of new streams beyond it are dropped and counted (stats: refused)', 'MAX_STREAMS')
        .argParser(parseIntIn(1, 1_000_000))
        .default(DEFAULTS.maxStreams),
    );
}

export interface StreamLimitFlags {
  streamTtl: number;
  maxStreams: number;
}

export function streamLimitsFrom(raw: StreamLimitFlags): StreamLimits {
  return { ttlMs: raw.streamTtl, maxStreams: raw.maxStreams };
}
