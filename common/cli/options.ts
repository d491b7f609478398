import type { Option } from 'commander';
import { DEFAULTS } from '../defaults';
import { envOption } from './program';
import { parseIntIn } from './values';

/** Options every long-running program offers the same way. */
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
