import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { DEFAULTS } from './defaults';
import { parseEndpoint, type EndpointRole } from './endpoint';
import { readAllowlist, readSecretKeyFile, readServerKey, type CurveKeyPair } from './curve-keys';
import type { CurveSettings } from './curve-security';
import { describeError, UsageError } from './errors';
import type { HttpTls } from './http/http-server';
import { isValidTopic } from './protocol';
import type { StreamLimits } from './stats/stream-bounds';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** A clean shutdown that overran this is reported as a failure rather than left hanging. */
export const SHUTDOWN_DEADLINE_MS = 1000;

/**
 * A reader that goes away (`zerocam-receiver --help | head`, a log collector that died) must not
 * kill the program with a stack trace: what it printed was for that reader alone, so the rest is
 * dropped and the program carries on (a recorder keeps recording).
 */
function ignoreClosedOutput(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

/** A commander program whose errors are one line on stderr and exit code 2. */
export function createProgram(name: string, description: string): Command {
  ignoreClosedOutput(process.stdout);
  ignoreClosedOutput(process.stderr);
  return new Command(name)
    .description(description)
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (message, write) => write(`${name}: ${message.replace(/^error: /, '').trim()}\n`) });
}

/** An option that also reads ZEROCAM_<NAME> from the environment (services are configured by env). */
export function envOption(flags: string, description: string, envName: string): Option {
  return new Option(flags, description).env(`ZEROCAM_${envName}`);
}

/** --health-file, which every long-running program offers the same way (common/health-file.ts). */
export function healthFileOption(): Option {
  return envOption('--health-file <path>', 'rewrite this file every second while running, for health checks', 'HEALTH_FILE');
}

/**
 * --socket-buffer, which every program that opens sockets offers the same way; apply the parsed
 * value with setNetworkSocketBuffer (common/socket-options.ts) before opening any.
 */
export function socketBufferOption(): Option {
  return envOption(
    '--socket-buffer <bytes>',
    `kernel send/receive buffer of each network socket (not ipc or loopback): small bounds the lag on a slow link, but caps a connection at about twice this per round trip; raise it for a fast link with a long round trip, 0 for the kernel's own sizing (default: ${DEFAULTS.socketBufferBytes})`,
    'SOCKET_BUFFER',
  )
    .argParser(parseIntIn(0, 64 * 1024 * 1024))
    .default(DEFAULTS.socketBufferBytes, String(DEFAULTS.socketBufferBytes));
}

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

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as `300s`, `5m`, `1.5h` or `500ms`, in milliseconds; a bare number is seconds. */
export function parseDurationIn(minMs: number, maxMs: number): (value: string) => number {
  const describe = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);
  return (value) => {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
    const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 's']! : NaN;
    if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
      throw new InvalidArgumentError(`expected a duration from ${describe(minMs)} to ${describe(maxMs)}, such as 300s, 5m or 1h (a bare number is seconds)`);
    }
    return Math.round(ms);
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

export function parseCommandLine(program: Command, argv: readonly string[]): void {
  program.parse(argv, { from: 'user' });
}

/**
 * Runs a CLI's main function with the behaviour every zerocam process shares:
 * SIGINT/SIGTERM abort `signal` and the process exits within SHUTDOWN_DEADLINE_MS;
 * a UsageError is one line on stderr and exit code 2; --help exits 0.
 */
export async function runCli(
  name: string,
  argv: readonly string[],
  main: (argv: readonly string[], signal: AbortSignal) => Promise<number | void>,
): Promise<never> {
  const controller = new AbortController();
  const onSignal = (signalName: NodeJS.Signals): void => {
    if (controller.signal.aborted) return;
    controller.abort(new Error(`received ${signalName}`));
    setTimeout(() => {
      process.stderr.write(`${name}: shutdown took longer than ${SHUTDOWN_DEADLINE_MS} ms; forcing exit\n`);
      process.exit(EXIT_FAILURE);
    }, SHUTDOWN_DEADLINE_MS).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code: number;
  try {
    code = (await main(argv, controller.signal)) ?? EXIT_OK;
  } catch (error) {
    code = reportError(name, error);
  }
  process.exitCode = code;
  // Every resource was closed in a finally; exiting explicitly also ends a stray timer or handle at once.
  process.exit(code);
}

function reportError(name: string, error: unknown): number {
  if (error instanceof CommanderError) {
    // commander already printed the message (or the help text).
    return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  }
  if (error instanceof UsageError) {
    process.stderr.write(`${name}: ${error.message}\n`);
    return EXIT_USAGE;
  }
  if (process.env.ZEROCAM_DEBUG) console.error(error);
  process.stderr.write(`${name}: ${describeError(error)}\n`);
  return EXIT_FAILURE;
}

/** A key-file reader as a commander parser: a bad file is one line naming the option, exit 2. */
function keyArgument<T>(read: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return read(value);
    } catch (error) {
      throw new InvalidArgumentError(describeError(error));
    }
  };
}

/** --curve-key: this program's own key pair; giving it turns CURVE on. */
export function curveKeyOption(): Option {
  return envOption('--curve-key <file>', 'CURVE: this program\'s key pair (a .key file from zerocam-keys); turns encryption on', 'CURVE_KEY').argParser(keyArgument(readSecretKeyFile));
}

/** --curve-allow, or a side-specific allowlist such as the hub's `--curve-allow-senders <path>` (env CURVE_ALLOW_SENDERS). */
export function curveAllowOption(flags = '--curve-allow <path>', envName = 'CURVE_ALLOW', who = 'clients'): Option {
  return envOption(flags, `CURVE, binding side: the ${who} allowed to connect (a .pub file, a file of keys one per line, or a directory of .pub files)`, envName).argParser(
    keyArgument(readAllowlist),
  );
}

/** --curve-server: the public key of the CURVE server a connecting side talks to. */
export function curveServerOption(): Option {
  return envOption('--curve-server <file|key>', 'CURVE, connecting side: the server\'s public key (its .pub file, or the 40-character key)', 'CURVE_SERVER').argParser(keyArgument(readServerKey));
}

/** The flags every program with one ZeroMQ socket takes. */
export function addCurveOptions(program: Command): Command {
  return program.addOption(curveKeyOption()).addOption(curveAllowOption()).addOption(curveServerOption());
}

export interface CurveFlags {
  curveKey?: CurveKeyPair;
  curveAllow?: ReadonlySet<string>;
  curveServer?: string;
}

export function curveSettingsFrom(raw: CurveFlags): CurveSettings {
  return { key: raw.curveKey, allow: raw.curveAllow, serverKey: raw.curveServer };
}

export const CURVE_HELP = `CURVE encryption (keys from zerocam-keys generate NAME):
  binding side:    --curve-key NAME.key [--curve-allow clients/]
  connecting side: --curve-server SERVER.pub [--curve-key NAME.key]`;

export { DEFAULTS };

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

/** The web surface's access options (`zerocam-viewer --web`, `zerocam-hub --http`). */
export function addWebAccessOptions(program: Command): Command {
  return program
    .addOption(envOption('--token <token>', 'the token every web request must carry (default: a random one, printed in the URL at start)', 'TOKEN').argParser(parseToken))
    .addOption(envOption('--allowed-host <name>', 'a Host name the web server answers to besides 127.0.0.1, localhost, [::1] and its bound address (repeatable, or comma-separated)', 'ALLOWED_HOST').argParser(collectHostNames))
    .addOption(envOption('--allow-ipc', 'let a web page ask for ipc:// and inproc:// endpoints, not only tcp://', 'ALLOW_IPC').default(false))
    .addOption(envOption('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, with its chain); needs --tls-key', 'TLS_CERT'))
    .addOption(envOption('--tls-key <file>', 'the private key of --tls-cert (PEM)', 'TLS_KEY'));
}

export interface WebAccessFlags {
  token?: string;
  allowedHost?: string[];
  allowIpc: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** Reads --tls-cert and --tls-key, and checks that they make a pair, before any server starts. */
export async function readWebTls(flags: WebAccessFlags): Promise<HttpTls | undefined> {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
  const read = async (flag: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new UsageError(`cannot read ${flag} ${path}: ${describeError(error)}`);
    }
  };
  const tls = { cert: await read('--tls-cert', flags.tlsCert), key: await read('--tls-key', flags.tlsKey) };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new UsageError(`--tls-cert ${flags.tlsCert} and --tls-key ${flags.tlsKey} are not a usable PEM certificate and its key: ${describeError(error)}`);
  }
  return tls;
}

export const WEB_ACCESS_HELP = `Web access: every request needs the token (the page keeps it in a cookie; scripts send
"Authorization: Bearer TOKEN" or add ?token=TOKEN), and a Host header naming this server.
On a network others share, serve HTTPS (--tls-cert, --tls-key), or the token can be read off the wire.`;
