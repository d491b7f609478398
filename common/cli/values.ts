import { InvalidArgumentError } from 'commander';
import { parseEndpoint, type EndpointRole } from '../sockets/endpoint';
import { describeError } from '../errors';
import { isValidTopic } from '../wire/protocol';

/** Parsers for flag values: each turns a bad value into commander's one-line usage error. */
export function parseIntIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    }
    return n;
  };
}

/** `auto`, or a whole number from min to max (--strips, the hub's --hwm). */
export function parseAutoOrIntIn(min: number, max: number): (value: string) => number | 'auto' {
  const parseInt = parseIntIn(min, max);
  return (value) => {
    if (value.trim() === 'auto') return 'auto';
    try {
      return parseInt(value);
    } catch {
      throw new InvalidArgumentError(`expected auto or a whole number from ${min} to ${max}`);
    }
  };
}

export function parseNumberIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a number from ${min} to ${max}`);
    }
    return n;
  };
}

export function parseEndpointFor(role: EndpointRole): (value: string) => string {
  return (value) => {
    try {
      return parseEndpoint(value, role);
    } catch (error) {
      throw new InvalidArgumentError(describeError(error).replace(/^invalid endpoint "[^"]*": /, ''));
    }
  };
}

export function parseTopic(value: string): string {
  if (!isValidTopic(value)) throw new InvalidArgumentError('use 1-64 characters of A-Z a-z 0-9 . _ - (starting with a letter or digit)');
  return value;
}

/** --topic may repeat and may hold a comma-separated list. */
export function collectTopics(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split(',').filter(Boolean).map(parseTopic)];
}

/** --connect may repeat and may hold a comma-separated list (handy in one ZEROCAM_CONNECT variable). */
export function collectEndpoints(value: string, previous: string[] | undefined): string[] {
  const parse = parseEndpointFor('connect');
  return [...(previous ?? []), ...value.split(',').filter(Boolean).map(parse)];
}

/** --token: URL-safe, so it survives `?token=` in a URL and a cookie as it is. */
export function parseToken(value: string): string {
  if (!/^[A-Za-z0-9._~-]{8,256}$/.test(value)) throw new InvalidArgumentError('expected 8-256 characters of A-Z, a-z, 0-9 and . _ ~ -');
  return value;
}

/** --allowed-host may repeat and may hold a comma-separated list. */
export function collectHostNames(value: string, previous: string[] | undefined): string[] {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  for (const name of names) {
    if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})$/.test(name)) throw new InvalidArgumentError(`"${name}" is not a host name (a name or address, without a port)`);
  }
  return [...(previous ?? []), ...names];
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** --max-bytes: a byte count with an optional binary unit: 500M, 20G, 1.5T, 1048576. */
export function parseByteSize(value: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim());
  const unit = SIZE_UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  const bytes = match && unit !== undefined ? Math.floor(Number(match[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw new InvalidArgumentError('expected a size such as 500M, 20G or 1.5T (K, M, G, T are powers of 1024)');
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration in milliseconds from a number and a unit: 90s, 30m, 12h, 7d (combinable: 1h30m); a bare number is seconds. */
export function parseDuration(value: string): number {
  const text = /^\d+(?:\.\d+)?$/.test(value.trim()) ? `${value.trim()}s` : value.trim();
  let ms = 0;
  let rest = text;
  for (;;) {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)/.exec(rest);
    if (!match) break;
    ms += Number(match[1]) * DURATION_UNITS[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  if (text === '' || rest !== '' || !Number.isFinite(ms) || ms < 1) throw new InvalidArgumentError('expected a duration such as 90s, 30m, 12h, 7d or 1h30m (a bare number is seconds)');
  return Math.round(ms);
}

/** A duration (as parseDuration) from minMs to maxMs, for flags with a range such as --stream-ttl. */
export function parseDurationIn(minMs: number, maxMs: number): (value: string) => number {
  const describe = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return (value) => {
    const ms = parseDuration(value);
    if (ms < minMs || ms > maxMs) throw new InvalidArgumentError(`expected a duration from ${describe(minMs)} to ${describe(maxMs)}, such as 300s, 5m or 1h`);
    return ms;
  };
}
