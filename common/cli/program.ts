import { Command, CommanderError, Option } from 'commander';
import { describeError, UsageError } from '../errors';

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
