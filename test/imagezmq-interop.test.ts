import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { colorDistance, decodeJpeg, pixelAt } from './helpers/media';
import { skipWithoutPython } from './helpers/python';
import { readIndex } from './helpers/recordings';
import { tempDir } from './helpers/temp-dir';

const SMALL = ['--width', '320', '--height', '240'];

function start(t: TestContext, name: 'sender' | 'receiver' | 'python', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

const TMP = 'zc-izmq-';

const hubFrames = (hub: CliProcess): JsonRecord[] => hub.stdout.filter((line) => line.startsWith('{"msg"')).map((line) => JSON.parse(line) as JsonRecord);

describe('imagezmq-format sender (Python) -> zerocam-receiver --wire imagezmq', () => {
  const cases = [
    ['req', 'rep', 'jpg'],
    ['req', 'rep', 'image'],
    ['pub', 'sub', 'jpg'],
    ['pub', 'sub', 'image'],
  ] as const;
  for (const [senderMode, receiverPattern, kind] of cases) {
    const call = kind === 'jpg' ? 'send_jpg' : 'send_image';
    test(`${senderMode}/${receiverPattern} with ${call}: a red BGR frame is saved red, topic from msg, seq counted, latency unknown`, async (t) => {
      if (skipWithoutPython(t)) return;
      const dir = await tempDir(t, TMP);
      const statsFile = join(dir, 'stats.json');
      const out = join(dir, 'frames');
      const endpoint = ipcEndpoint();
      const receiverArgs = ['--wire', 'imagezmq', '--pattern', receiverPattern, '--out', out, '--frames', '3', '--stats-json', statsFile, '--no-stats'];
      let receiver: CliProcess;
      if (senderMode === 'req') {
        receiver = start(t, 'receiver', [...receiverArgs, '--bind', endpoint]);
        await receiver.ready();
        const sender = start(t, 'python', ['imagezmq_sender.py', 'req', endpoint, kind, 'pi-cam1 garage door', '3']);
        assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
        assert.deepEqual(sender.stdout, ['reply OK', 'reply OK', 'reply OK'], 'each frame is acknowledged OK, as an ImageHub does');
      } else {
        const sender = start(t, 'python', ['imagezmq_sender.py', 'pub', endpoint, kind, 'pi-cam1 garage door', '0']);
        await sender.waitForLine('stdout', (line) => line.startsWith('bound'));
        receiver = start(t, 'receiver', [...receiverArgs, '--connect', endpoint]);
      }
      assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));

      const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
      assert.equal(summary.frames, 3);
      assert.equal(summary.rejected, 0);
      assert.equal(summary.latencyFrames, 0, 'imagezmq carries no capture time: latency is unknown, not 0');
      const index = await readIndex(out);
      assert.ok(index.length >= 1);
      if (receiverPattern === 'rep') assert.deepEqual(index.map((e) => e.seq), [0, 1, 2], 'rep saves every frame before replying');
      for (const entry of index) {
        assert.equal(entry.topic, 'pi-cam1');
        assert.deepEqual([entry.width, entry.height, entry.captureUs], [64, 48, 0]);
        const image = await decodeJpeg(join(out, entry.file));
        assert.deepEqual([image.width, image.height], [64, 48]);
        assert.ok(colorDistance(pixelAt(image, 32, 24), [255, 0, 0]) < 12, `red arrives red, got ${pixelAt(image, 32, 24).join(',')}`);
      }
    });
  }

  test('sub with --topic: only the frames whose msg names that topic are taken, from among two senders', { timeout: 60_000 }, async (t) => {
    if (skipWithoutPython(t)) return;
    const dir = await tempDir(t, TMP);
    const out = join(dir, 'frames');
    const endpoints = [ipcEndpoint(), ipcEndpoint()];
    const senders = [start(t, 'python', ['imagezmq_sender.py', 'pub', endpoints[0] ?? '', 'jpg', 'pi-cam1 garage door', '0']), start(t, 'python', ['imagezmq_sender.py', 'pub', endpoints[1] ?? '', 'jpg', 'pi-cam2|porch', '0'])];
    for (const sender of senders) await sender.waitForLine('stdout', (line) => line.startsWith('bound'));
    const receiver = start(t, 'receiver', ['--wire', 'imagezmq', '--connect', endpoints.join(','), '--topic', 'pi-cam2', '--out', out, '--frames', '5', '--no-stats']);
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    const index = await readIndex(out);
    assert.ok(index.length >= 1);
    assert.deepEqual([...new Set(index.map((entry) => entry.topic))], ['pi-cam2']);
  });

  test('rep with a greyscale send_image: saved as a grey JPEG', async (t) => {
    if (skipWithoutPython(t)) return;
    const dir = await tempDir(t, TMP);
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--wire', 'imagezmq', '--pattern', 'rep', '--bind', endpoint, '--out', dir, '--frames', '1', '--no-stats']);
    await receiver.ready();
    const sender = start(t, 'python', ['imagezmq_sender.py', 'req', endpoint, 'grey', 'grey', '1']);
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    const [entry] = await readIndex(dir);
    assert.ok(entry);
    const image = await decodeJpeg(join(dir, entry.file));
    assert.ok(Math.abs(image.pixels[0]! - 128) < 4, `got ${image.pixels[0]}`);
  });
});

describe('zerocam-sender --wire imagezmq -> imagezmq-format hub (Python)', () => {
  test('req -> rep: the hub receives the frames with recv_jpg, msg = the topic, decodable at full size', async (t) => {
    if (skipWithoutPython(t)) return;
    const endpoint = ipcEndpoint();
    const hub = start(t, 'python', ['imagezmq_hub.py', 'rep', endpoint, '5']);
    await hub.waitForLine('stdout', (line) => line.includes('listening'));
    const sender = start(t, 'sender', ['--wire', 'imagezmq', '--pattern', 'req', '--connect', endpoint, '--topic', 'lab-cam', ...SMALL, '--no-stats']);
    assert.equal((await hub.exited).code, 0, hub.stderr.join('\n'));
    assert.deepEqual(hubFrames(hub).map((f) => [f.msg, f.width, f.height]), Array(5).fill(['lab-cam', 320, 240]));
    sender.kill('SIGTERM');
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
  });

  test('pub -> sub: the hub receives the frames with recv_jpg, msg = the topic', async (t) => {
    if (skipWithoutPython(t)) return;
    const sender = start(t, 'sender', ['--wire', 'imagezmq', '--pattern', 'pub', '--bind', ipcEndpoint(), '--topic', 'lab-cam', ...SMALL, '--no-stats']);
    const endpoint = await sender.ready();
    const hub = start(t, 'python', ['imagezmq_hub.py', 'sub', endpoint, '5']);
    assert.equal((await hub.exited).code, 0, hub.stderr.join('\n'));
    assert.deepEqual(hubFrames(hub).map((f) => [f.msg, f.width, f.height]), Array(5).fill(['lab-cam', 320, 240]));
  });

  test('the hub is killed mid-stream: the REQ sender keeps running, counts timeouts, logs once, resumes when the hub is back, and exits at once on SIGINT while waiting', async (t) => {
    if (skipWithoutPython(t)) return;
    const endpoint = ipcEndpoint();
    const firstHub = start(t, 'python', ['imagezmq_hub.py', 'rep', endpoint, '0']);
    await firstHub.waitForLine('stdout', (line) => line.includes('listening'));
    const sender = start(t, 'sender', ['--wire', 'imagezmq', '--pattern', 'req', '--connect', endpoint, '--topic', 'lab-cam', '--reply-timeout', '300', ...SMALL]);
    await firstHub.waitForLine('stdout', () => hubFrames(firstHub).length >= 3);
    firstHub.kill('SIGKILL');
    await firstHub.exited;

    const outage = await sender.waitForJson('stdout', (r) => Number(r.timeouts) >= 2);
    const warnings = sender.stderr.filter((line) => line.includes('"reply-timeout"'));
    assert.equal(warnings.length, 1, 'one log line per outage, however many timeouts');

    const secondHub = start(t, 'python', ['imagezmq_hub.py', 'rep', endpoint, '3']);
    assert.equal((await secondHub.exited).code, 0, secondHub.stderr.join('\n'));
    await sender.waitForLine('stderr', (line) => line.includes('"reply-recovered"'));
    const resumed = await sender.waitForJson('stdout', (r) => Number(r.frames) > Number(outage.frames));
    assert.ok(Number(resumed.frames) > Number(outage.frames));

    // The second hub is gone too (it took 3 frames), so the sender is waiting for a reply again.
    await sender.waitForJson('stdout', (r) => Number(r.timeouts) > Number(resumed.timeouts));
    sender.kill('SIGINT');
    const { code } = await sender.exited;
    assert.equal(code, 0, `a shutdown past the 1 s deadline exits 1.\n${sender.stderr.join('\n')}`);
  });
});
