import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';

const DIST = join(__dirname, '..', '..');
const ENTRY = { sender: 'sender/cli.js', receiver: 'receiver/cli.js', viewer: 'electron/cli.js', hub: 'hub/cli.js', keys: 'keys/cli.js', worker: 'worker/cli.js', bench: 'bench/bench.js' } as const;
/** Debian's python3 with python3-zmq and python3-opencv, which scripts/setup.sh installs (not pyenv's). */
export const PYTHON = '/usr/bin/python3';
/** The Python peers under test/python/. */
export const PYTHON_DIR = join(DIST, '..', 'test', 'python');

/**
 * node and the arguments that run a program's script as its users run it: with the node flags its
 * shebang gives (`#!/usr/bin/env -S node --max-semi-space-size=2`, hub/cli.ts), which the bin
 * links, the Docker image and npx apply and `node script.js` would not.
 */
export function nodeCommand(script: string): [string, ...string[]] {
  const shebang = /^#!\/usr\/bin\/env -S node(?<flags>[^\n]*)\n/.exec(readFileSync(script, 'utf8'))?.groups?.flags ?? '';
  return [process.execPath, ...shebang.split(' ').filter(Boolean), script];
}

function programCommand(script: string, args: readonly string[]): [string, string[]] {
  const [node, ...nodeArgs] = nodeCommand(script);
  return [node, [...nodeArgs, ...args]];
}

export type JsonRecord = Record<string, unknown>;
type Waiter = { stream: 'stdout' | 'stderr'; match: (line: string) => boolean; resolve: (line: string) => void; reject: (error: Error) => void };

/**
 * A zerocam CLI (or, as 'python', a script with args[0] its path, relative to test/python/) run as a
 * child process, its output collected line by line. Tests wait for
 * lines (events), never for time; a wait fails at once if the process exits first.
 */
export class CliProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcessByStdio<null, Readable, Readable>;
  private waiters: Waiter[] = [];
  private hasExited = false;

  constructor(
    readonly name: keyof typeof ENTRY | 'python',
    args: readonly string[],
    env: NodeJS.ProcessEnv = {},
    cwd?: string,
    /** A command that runs the program, e.g. in a network namespace: ['ip', 'netns', 'exec', NS]. It must exec it, not fork it. */
    launcher: readonly string[] = [],
  ) {
    const script = args[0] ?? '';
    const [program, programArgs] =
      name === 'python' ? [PYTHON, ['-u', isAbsolute(script) ? script : join(PYTHON_DIR, script), ...args.slice(1)]] : programCommand(join(DIST, ENTRY[name]), args);
    const [command, ...commandArgs] = [...launcher, program, ...programArgs] as [string, ...string[]];
    this.child = spawn(command, commandArgs, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ZEROCAM_LOG_LEVEL: 'info', ...env },
    });
    for (const stream of ['stdout', 'stderr'] as const) {
      createInterface({ input: this.child[stream] }).on('line', (line) => this.onLine(stream, line));
    }
    const streamsClosed = Promise.all([
      new Promise((resolve) => this.child.stdout.on('close', resolve)),
      new Promise((resolve) => this.child.stderr.on('close', resolve)),
    ]);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        // Resolve once all output is read, so a test that awaits exit sees every line.
        void streamsClosed.then(() => {
          this.hasExited = true;
          for (const waiter of this.waiters) waiter.reject(new Error(`${this.name} exited (${code ?? signal}) first.\nstderr:\n${this.stderr.join('\n')}`));
          this.waiters = [];
          resolve({ code, signal });
        });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  waitForLine(stream: 'stdout' | 'stderr', match: (line: string) => boolean): Promise<string> {
    const seen = this[stream].find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.hasExited) return Promise.reject(new Error(`${this.name} already exited.\nstderr:\n${this.stderr.join('\n')}`));
    return new Promise((resolve, reject) => this.waiters.push({ stream, match, resolve, reject }));
  }

  /** Waits for a JSON line (a log record on stderr, a stats record on stdout) that satisfies `match`. */
  async waitForJson(stream: 'stdout' | 'stderr', match: (record: JsonRecord) => boolean): Promise<JsonRecord> {
    const line = await this.waitForLine(stream, (l) => {
      const record = parseJson(l);
      return record !== undefined && match(record);
    });
    return parseJson(line)!;
  }

  /** Every JSON line seen so far on `stream`, in order. */
  jsonLines(stream: 'stdout' | 'stderr'): JsonRecord[] {
    return this[stream].map(parseJson).filter((record): record is JsonRecord => record !== undefined);
  }

  /** The endpoint from the "streaming"/"receiving" log record. */
  async ready(): Promise<string> {
    const record = await this.waitForJson('stderr', (r) => r.event === 'streaming' || r.event === 'receiving');
    return String(record.endpoint);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (!this.hasExited && this.child.exitCode === null) this.child.kill(signal);
  }

  /** For t.after(): make sure nothing outlives its test. */
  async stop(): Promise<void> {
    this.kill('SIGKILL');
    await this.exited;
  }

  private onLine(stream: 'stdout' | 'stderr', line: string): void {
    this[stream].push(line);
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.stream !== stream || !waiter.match(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }
}

function parseJson(line: string): JsonRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as JsonRecord;
  } catch {
    return undefined;
  }
}
