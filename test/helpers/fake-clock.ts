import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** Debian's libfaketime (apt package faketime, which scripts/setup.sh installs). */
export const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/** A process whose wall clock reads `spec` off the real one (libfaketime's FAKETIME, e.g. "+2s"); monotonic time stays real. */
export const fakeClock = (spec: string): NodeJS.ProcessEnv => ({ LD_PRELOAD: LIBFAKETIME, FAKETIME: spec, DONT_FAKE_MONOTONIC: '1' });

/** Skips the test (saying why) when libfaketime is missing. */
export function skipWithoutFaketime(t: TestContext): boolean {
  if (existsSync(LIBFAKETIME)) return false;
  t.skip(`no ${LIBFAKETIME} (apt-get install faketime)`);
  return true;
}
