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
