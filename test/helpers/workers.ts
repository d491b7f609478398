import type { TestContext } from 'node:test';
import { join } from 'node:path';
import * as zmq from 'zeromq';
import { decodeResult } from '../../common/wire/result-protocol';
import { CliProcess, type JsonRecord } from './cli-process';
import { ipcEndpoint } from './endpoints';

/** The example plug-in the docs point at; BRIGHTNESS_DELAY_MS makes it slow. */
export const BRIGHTNESS_PLUGIN = join(__dirname, '..', '..', '..', 'worker', 'examples', 'brightness.mjs');

export interface WorkHub {
  process: CliProcess;
  senders: string;
  workers: string;
  results: string;
}

/** A zerocam-hub with --workers, all on fresh ipc endpoints unless `args` say otherwise; killed after the test. */
export async function startWorkHub(t: TestContext, args: readonly string[]): Promise<WorkHub> {
  const hub = new CliProcess('hub', ['--senders', ipcEndpoint(), '--receivers', 'tcp://127.0.0.1:*', '--workers', ipcEndpoint(), '--results', ipcEndpoint(), ...args]);
  t.after(() => hub.stop());
  const forwarding = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
  const working = await hub.waitForJson('stderr', (r) => r.event === 'working');
  return { process: hub, senders: String(forwarding.senders), workers: String(working.workers), results: String(working.results) };
}

export function startWorker(t: TestContext, hub: WorkHub, name: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const worker = new CliProcess('worker', ['--connect', hub.workers, '--name', name, ...args], env);
  t.after(() => worker.stop());
  return worker;
}

/** Waits until the hub has logged `name` joining (the nth time). */
export function joined(hub: WorkHub, name: string): Promise<JsonRecord> {
  return hub.process.waitForJson('stderr', (r) => r.event === 'worker-joined' && r.worker === name);
}

export interface ReceivedResult {
  topic: string;
  seq: number;
  session: number;
  worker: string;
  processor: string;
  body: Record<string, unknown>;
  image: Buffer | undefined;
}

type Waiter = { match: (all: readonly ReceivedResult[]) => boolean; resolve: () => void };

/** A SUB on the hub's results socket, subscribed before it returns (the hub logs the subscription). */
export class ResultCollector {
  readonly results: ReceivedResult[] = [];
  private waiters: Waiter[] = [];
  private readonly socket = new zmq.Subscriber({ linger: 0, receiveHighWaterMark: 10_000 });

  static async open(t: TestContext, hub: WorkHub, prefix = ''): Promise<ResultCollector> {
    const collector = new ResultCollector();
    t.after(() => collector.close());
    collector.socket.connect(hub.results);
    collector.socket.subscribe(prefix);
    void collector.loop();
    await hub.process.waitForJson('stderr', (r) => r.event === 'results-subscribed' && r.prefix === prefix);
    return collector;
  }

  /** Resolves once the results so far satisfy `match`. */
  until(match: (all: readonly ReceivedResult[]) => boolean): Promise<void> {
    if (match(this.results)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  private async loop(): Promise<void> {
    try {
      for await (const parts of this.socket) {
        const result = decodeResult(parts, { maxFrameBytes: 16 << 20 });
        this.results.push({ topic: result.topic, ...result.header, body: result.bodyJson, image: result.image });
        this.waiters = this.waiters.filter((waiter) => {
          if (!waiter.match(this.results)) return true;
          waiter.resolve();
          return false;
        });
      }
    } catch (error) {
      if (!this.socket.closed) throw error;
    }
  }

  close(): void {
    if (!this.socket.closed) this.socket.close();
  }
}

export const workOf = (record: JsonRecord): JsonRecord => (record.work as JsonRecord | undefined) ?? {};
