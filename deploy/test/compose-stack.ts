import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describeError } from '../../common/errors';

const run = promisify(execFile);
export const REPO = join(__dirname, '..', '..', '..');

export type JsonRecord = Record<string, unknown>;

/** Runs a command from the repository root; resolves its stdout, rejects with its stderr in the message. */
export async function sh(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await run(command, args, { cwd: REPO, env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stderr, stdout } = error as { stderr?: string; stdout?: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${(stderr || stdout || describeError(error)).slice(-4000)}`, { cause: error });
  }
}

/**
 * One Compose project of the repository's compose.yaml, under a project name of its own, so the
 * suite only ever sees and removes the containers, networks and volumes it created.
 */
export class ComposeStack {
  constructor(
    readonly project: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  compose(...args: string[]): Promise<string> {
    return sh('docker-compose', ['--project-name', this.project, '--file', 'compose.yaml', ...args], this.env);
  }

  /** The host address a service's container port is published on, e.g. 127.0.0.1:49153. */
  async published(service: string, port: number): Promise<string> {
    const address = (await this.compose('port', service, String(port))).trim();
    if (!/:\d+$/.test(address)) throw new Error(`${service}:${port} is not published (${address})`);
    return address;
  }

  async exec(service: string, ...command: string[]): Promise<string> {
    return this.compose('exec', '-T', service, ...command);
  }

  async containers(service?: string): Promise<string[]> {
    const out = await this.compose('ps', '-q', ...(service ? [service] : []));
    return out.split('\n').filter(Boolean);
  }

  /**
   * Follows a service's JSON lines (stats on stdout, logs on stderr) until one satisfies `match`.
   * The programs print stats once a second, so this waits on their own output, not on a clock.
   */
  async waitForJson(service: string, match: (record: JsonRecord) => boolean, timeoutMs: number, what: string): Promise<JsonRecord> {
    const child = spawn('docker-compose', ['--project-name', this.project, '--file', 'compose.yaml', 'logs', '--follow', '--no-color', '--no-log-prefix', '--tail', '0', service], {
      cwd: REPO,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const seen: string[] = [];
    try {
      return await new Promise<JsonRecord>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${service} record where ${what} within ${timeoutMs} ms; last lines:\n${seen.slice(-5).join('\n')}`)), timeoutMs);
        createInterface({ input: child.stdout }).on('line', (line) => {
          seen.push(line);
          const record = parseJson(line);
          if (record && match(record)) {
            clearTimeout(timer);
            resolve(record);
          }
        });
        child.on('exit', () => {
          clearTimeout(timer);
          reject(new Error(`docker-compose logs for ${service} ended before a record where ${what}`));
        });
      });
    } finally {
      child.kill();
    }
  }
}

function parseJson(line: string): JsonRecord | undefined {
  const start = line.indexOf('{');
  if (start < 0) return undefined;
  try {
    return JSON.parse(line.slice(start)) as JsonRecord;
  } catch {
    return undefined;
  }
}

/** Asks `check` until it returns a value, for state that has no event to wait on (an HTTP resource). */
export async function poll<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${describeError(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
