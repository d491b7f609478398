import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * A fresh temporary directory, removed after the test. A test's after-hooks run in the order they
 * were added, so this one usually runs before the hooks that stop the processes writing into the
 * directory, and a hook that throws skips every later one, which would leave those processes
 * running into the next tests. So a directory still being written to (ENOTEMPTY) is removed when
 * the test process exits instead, never failing the hook.
 */
export async function tempDir(t: TestContext, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(async () => {
    try {
      await rm(dir, { recursive: true, force: true });
    } catch {
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    }
  });
  return dir;
}
