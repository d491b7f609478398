import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UNITS = join(__dirname, '..', '..', 'deploy', 'systemd');

/** systemd-analyze verify exits 0 even for units it ignores lines of; what it prints is the verdict. */
async function verify(path: string): Promise<string> {
  try {
    const { stderr } = await run('systemd-analyze', ['verify', path]);
    return stderr.trim();
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error).trim();
  }
}

const haveSystemd = existsSync('/usr/bin/systemd-analyze') || existsSync('/bin/systemd-analyze');

describe('systemd units for camera hosts', { skip: haveSystemd ? false : 'systemd-analyze is not installed here' }, () => {
  test('systemd-analyze verify accepts every unit without a warning', async () => {
    const units = (await readdir(UNITS)).filter((f) => f.endsWith('.service'));
    assert.deepEqual(units.sort(), ['zerocam-hub.service', 'zerocam-receiver.service', 'zerocam-sender.service']);
    for (const unit of units) assert.equal(await verify(join(UNITS, unit)), '', unit);
  });

  test('the check would catch a broken unit (a misspelt directive is reported)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zc-units-'));
    try {
      const broken = (await readFile(join(UNITS, 'zerocam-sender.service'), 'utf8')).replace('ProtectSystem=strict', 'ProtectSystm=strict');
      await writeFile(join(dir, 'zerocam-sender.service'), broken);
      assert.match(await verify(join(dir, 'zerocam-sender.service')), /Unknown key 'ProtectSystm'/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('each unit restarts always, reads an environment file, hardens, and runs as no fixed user', async () => {
    for (const unit of ['zerocam-hub.service', 'zerocam-receiver.service', 'zerocam-sender.service']) {
      const text = await readFile(join(UNITS, unit), 'utf8');
      for (const line of ['Restart=always', 'DynamicUser=yes', 'ProtectSystem=strict', 'NoNewPrivileges=yes']) assert.ok(text.includes(`\n${line}\n`), `${unit}: ${line}`);
      assert.match(text, /\nEnvironmentFile=-\/etc\/zerocam\/\w+\.env\n/, unit);
    }
    const sender = await readFile(join(UNITS, 'zerocam-sender.service'), 'utf8');
    assert.match(sender, /\nDevicePolicy=closed\nDeviceAllow=char-video4linux rw\n/);
    assert.match(await readFile(join(UNITS, 'zerocam-receiver.service'), 'utf8'), /\nStateDirectory=zerocam\n/);
  });
});
