import type { TestContext } from 'node:test';
import { CliProcess, type JsonRecord } from './cli-process';

/** A zerocam-hub under test, with the endpoints it reported once bound. */
export interface Hub {
  process: CliProcess;
  senders: string;
  receivers: string;
}

/** Starts zerocam-hub with exactly `args` and waits until it forwards; it is killed after the test. */
export async function startHub(t: TestContext, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Hub> {
  const hub = new CliProcess('hub', args, env);
  t.after(() => hub.stop());
  const record = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
  return { process: hub, senders: String(record.senders), receivers: String(record.receivers) };
}

export const streamsOf = (record: JsonRecord): Record<string, JsonRecord> => (record.streams as Record<string, JsonRecord> | undefined) ?? {};
export const framesOf = (record: JsonRecord, topic: string): number => Number(streamsOf(record)[topic]?.frames ?? 0);
