import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { PYTHON } from './cli-process';

/** Skips the test (saying why) where Debian's python3 is missing; true if skipped. */
export function skipWithoutPython(t: TestContext): boolean {
  if (existsSync(PYTHON)) return false;
  t.skip(`${PYTHON} is missing (run scripts/setup.sh)`);
  return true;
}
