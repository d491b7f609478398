import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * Diagnostics go to stderr, so stdout stays clean for stats. A person at a terminal reads short
 * coloured lines; a service manager or log shipper gets JSON. Writes are synchronous so nothing
 * is lost when the process exits right after logging.
 */
export function createLogger(name: string, level = process.env.ZEROCAM_LOG_LEVEL ?? 'info'): Logger {
  if (process.stderr.isTTY) {
    return pino({ name, level }, pretty({ destination: 2, sync: true, ignore: 'pid,hostname', hideObject: true, translateTime: 'HH:MM:ss' }));
  }
  return pino({ name, level, base: { name } }, pino.destination({ fd: 2, sync: true }));
}

/**
 * Warns once per reason and stays quiet after that, for events the caller also counts (malformed
 * messages, refused streams): a flood of bad input is one line per reason, not a log storm.
 * Reasons must come from a fixed set, never from the input itself, or the set would grow with it.
 */
export function warnOncePerReason(log: Logger): (reason: string, message: string) => void {
  const warned = new Set<string>();
  return (reason, message) => {
    if (warned.has(reason)) return;
    warned.add(reason);
    log.warn({ event: 'first-of-its-kind', reason }, `${message}; further ones are only counted`);
  };
}
