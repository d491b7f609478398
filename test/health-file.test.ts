import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { tempDir } from './helpers/temp-dir';

const run = promisify(execFile);
const HEALTH_CHECK = join(__dirname, '..', 'deploy', 'docker', 'health-check.js');

/** The health check's exit code and its one line. */
async function healthCheck(path: string): Promise<{ code: number; message: string }> {
  try {
    await run(process.execPath, [HEALTH_CHECK, path]);
    return { code: 0, message: '' };
  } catch (error) {
    const { code, stderr } = error as { code: number; stderr: string };
    return { code, message: stderr.trim() };
  }
}

describe('health file', () => {
  for (const program of ['sender', 'receiver', 'hub', 'viewer'] as const) {
    test(`zerocam-${program} keeps its health file fresh while it runs and removes it when it stops`, async (t) => {
      const dir = await tempDir(t, 'zc-health-');
      const path = join(dir, 'health.json');
      const args = {
        sender: ['--bind', 'tcp://127.0.0.1:*', '--width', '64', '--height', '48'],
        receiver: ['--bind', 'tcp://127.0.0.1:*'],
        hub: ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*'],
        viewer: ['--web', '--port', '0'],
      }[program];
      // ZEROCAM_HEALTH_FILE, as the container images set it.
      const child = new CliProcess(program, program === 'viewer' ? args : [...args, '--no-stats'], { ZEROCAM_HEALTH_FILE: path });
      t.after(() => child.stop());
      await child.waitForJson('stderr', (r) => ['streaming', 'receiving', 'forwarding', 'serving'].includes(String(r.event)));

      const record = JSON.parse(await readFile(path, 'utf8')) as JsonRecord;
      assert.equal(record.pid, child.pid);
      assert.equal(record.program, `zerocam-${program}`);
      assert.deepEqual(await healthCheck(path), { code: 0, message: '' });

      child.kill('SIGTERM');
      assert.equal((await child.exited).code, 0);
      const after = await healthCheck(path);
      assert.equal(after.code, 1);
      assert.match(after.message, /does not exist/);
    });
  }

  test('a health file that stopped being refreshed is reported as stuck', async (t) => {
    const dir = await tempDir(t, 'zc-health-');
    const path = join(dir, 'health.json');
    const child = new CliProcess('receiver', ['--bind', 'tcp://127.0.0.1:*', '--no-stats', '--health-file', path]);
    t.after(() => child.stop());
    await child.ready();
    // A frozen process (SIGSTOP; the SIGKILL in stop() still ends it) stops refreshing; its file's age is what the check reads.
    process.kill(child.pid!, 'SIGSTOP');
    const minuteAgo = new Date(Date.now() - 60_000);
    await utimes(path, minuteAgo, minuteAgo);
    const result = await healthCheck(path);
    assert.equal(result.code, 1);
    assert.match(result.message, /stuck/);
  });
});
