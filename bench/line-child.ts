import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * A reference program (Python, or a bare Node loop) the bench drives by lines: it reads commands
 * on stdin and answers one line at a time on stdout. Its stderr passes through, so its failures show.
 */
export class LineChild {
  private readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: string[] = [];
  private waiting: (() => void) | undefined;
  private exitCode: number | null | undefined;
  readonly exited: Promise<void>;

  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    // A child that exits early closes stdin under a pending write; its exit is what the caller sees.
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        this.exitCode = code;
        this.wake();
        resolve();
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The next line it prints; fails if it exits first. */
  async line(): Promise<string> {
    for (;;) {
      const line = this.lines.shift();
      if (line !== undefined) return line;
      if (this.exitCode !== undefined) throw new Error(`${this.child.spawnfile} exited (code ${this.exitCode}) before answering`);
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }

  async json<T>(): Promise<T> {
    return JSON.parse(await this.line()) as T;
  }

  send(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  /** Ends it (SIGTERM) unless it has exited, and waits for the exit. Idempotent. */
  async stop(): Promise<void> {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    await this.exited;
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}
