import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';

const DOC = join(__dirname, '..', '..', 'docs', 'protocol.md');
// Debian's python3 with python3-zmq, which scripts/setup.sh installs.
const PYTHON = '/usr/bin/python3';

describe('docs/protocol.md', () => {
  test('the Python receiver in the doc reads frames from a real zerocam-sender', async (t) => {
    const doc = await readFile(DOC, 'utf8');
    const code = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(code, 'the doc has a python block');
    if (!existsSync(PYTHON)) return t.skip(`${PYTHON} is missing (run scripts/setup.sh)`);

    const dir = await mkdtemp(join(tmpdir(), 'zc-py-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'receive.py'), code);
    const sender = new CliProcess('sender', ['--bind', ipcEndpoint(), '--width', '320', '--height', '240', '--topic', 'pycam', '--no-stats']);
    t.after(() => sender.stop());
    const endpoint = await sender.ready();

    const output = await new Promise<string>((resolve, reject) => {
      execFile(PYTHON, ['receive.py', endpoint, '5'], { cwd: dir }, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)));
    });
    const lines = output.trim().split('\n');
    assert.equal(lines.length, 5);
    for (const line of lines) assert.match(line, /^pycam seq=\d+ 320x240 \d+ bytes latency=-?\d+\.\d ms$/);
    const meta = await sharp(join(dir, 'newest.jpg')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 240]);
  });
});
