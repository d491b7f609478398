import assert from 'node:assert/strict';
import type { CliProcess, JsonRecord } from './cli-process';

/**
 * For a sender whose last receiver just left: waits for its second "idle" event, then for two
 * idle stats records after it, and checks that no frame was captured between them.
 */
export async function assertIdlesAgain(sender: CliProcess): Promise<void> {
  // waitForJson also matches lines already seen: count idle events to wait for the second one.
  const idleEvents = (): number => sender.stderr.filter((line) => line.includes('"event":"idle"')).length;
  await sender.waitForJson('stderr', (r) => r.event === 'idle' && idleEvents() === 2);
  const seen = sender.stdout.length;
  const idleRecordsSince = (): JsonRecord[] => sender.stdout.slice(seen).map((line) => JSON.parse(line) as JsonRecord).filter((r) => r.idle === true);
  await sender.waitForJson('stdout', () => idleRecordsSince().length >= 2);
  const [first, second] = idleRecordsSince();
  assert.ok(Number(first!.frames) > 0, 'it streamed while watched');
  assert.equal(second!.frames, first!.frames, 'no frame is captured or sent while idle');
}
