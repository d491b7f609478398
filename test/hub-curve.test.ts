import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { CliProcess, type JsonRecord } from './helpers/cli-process';

const SMALL = ['--width', '320', '--height', '240', '--fps', '30'];

function start(t: TestContext, name: 'sender' | 'receiver' | 'hub' | 'keys', args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = new CliProcess(name, args, env);
  t.after(() => child.stop());
  return child;
}

/** hub, cam (on the senders' list) and viewer (on the receivers' list), made with zerocam-keys. */
async function hubKeys(t: TestContext): Promise<{ dir: string; key: (name: string, ext: 'key' | 'pub') => string }> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-hub-curve-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  for (const name of ['hub', 'cam', 'viewer']) {
    const keys = start(t, 'keys', ['generate', join(dir, name)]);
    assert.equal((await keys.exited).code, 0, keys.stderr.join('\n'));
  }
  await mkdir(join(dir, 'cameras'));
  await mkdir(join(dir, 'viewers'));
  await copyFile(join(dir, 'cam.pub'), join(dir, 'cameras', 'cam.pub'));
  await copyFile(join(dir, 'viewer.pub'), join(dir, 'viewers', 'viewer.pub'));
  return { dir, key: (name, ext) => join(dir, `${name}.${ext}`) };
}

const streamFrames = (topic: string) => (r: JsonRecord) => Number((r.streams as Record<string, JsonRecord> | undefined)?.[topic]?.frames) > 0;

describe('zerocam-hub with CURVE: an allowlist per side', () => {
  test('a camera key publishes and a viewer key watches; the viewer key cannot publish, and the hub counts it as denied', async (t) => {
    const { dir, key } = await hubKeys(t);
    // The allowlists come from the environment here, as a container would set them.
    const hub = start(t, 'hub', ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', '--curve-key', key('hub', 'key')], {
      ZEROCAM_CURVE_ALLOW_SENDERS: join(dir, 'cameras'),
      ZEROCAM_CURVE_ALLOW_RECEIVERS: join(dir, 'viewers'),
    });
    const forwarding = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
    const [senders, receivers] = [String(forwarding.senders), String(forwarding.receivers)];
    const client = ['--curve-server', key('hub', 'pub')];

    start(t, 'sender', ['--connect', senders, '--topic', 'cam1', ...SMALL, '--no-stats', ...client, '--curve-key', key('cam', 'key')]);
    const receiver = start(t, 'receiver', ['--connect', receivers, '--topic', 'cam1', ...client, '--curve-key', key('viewer', 'key')]);
    await receiver.waitForJson('stdout', streamFrames('cam1'));

    // The viewer's key, used to publish: the senders' side refuses it.
    const intruder = start(t, 'sender', ['--connect', senders, '--topic', 'injected', ...SMALL, '--no-stats', ...client, '--curve-key', key('viewer', 'key')]);
    await intruder.waitForJson('stderr', (r) => r.event === 'curve-handshake-failed');
    const denial = await hub.waitForJson('stderr', (r) => r.event === 'curve-denied');
    assert.equal(denial.publicKey, (await readPublicKey(t, key('viewer', 'pub'))));
    const stats = await hub.waitForJson('stdout', (r) => Number(r.denied) > 0);
    assert.equal((stats.streams as Record<string, unknown>).injected, undefined, 'no frame of the intruder reached the hub');
    // And the camera's stream still flows to the allowed viewer.
    const mark = receiver.stdout.length;
    await receiver.waitForJson('stdout', (r) => receiver.stdout.length > mark && streamFrames('cam1')(r));
  });

  test('a key not on the receivers\' list gets nothing from the hub while an allowed viewer watches', async (t) => {
    const { dir, key } = await hubKeys(t);
    const hub = start(t, 'hub', [
      '--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', '--curve-key', key('hub', 'key'),
      '--curve-allow-senders', join(dir, 'cameras'), '--curve-allow-receivers', join(dir, 'viewers'),
    ]);
    const forwarding = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
    const client = ['--curve-server', key('hub', 'pub')];
    start(t, 'sender', ['--connect', String(forwarding.senders), '--topic', 'cam1', ...SMALL, '--no-stats', ...client, '--curve-key', key('cam', 'key')]);
    // An allowed viewer subscribes, so the camera streams (it idles while no one watches).
    const viewer = start(t, 'receiver', ['--connect', String(forwarding.receivers), '--topic', 'cam1', ...client, '--curve-key', key('viewer', 'key')]);
    await viewer.waitForJson('stdout', streamFrames('cam1'));
    // The camera's key is only on the senders' list.
    const statsFile = join(dir, 'receiver.json');
    const receiver = start(t, 'receiver', ['--connect', String(forwarding.receivers), '--stats-json', statsFile, ...client, '--curve-key', key('cam', 'key')]);
    await receiver.waitForJson('stderr', (r) => r.event === 'curve-handshake-failed');
    await hub.waitForJson('stdout', (r) => Number(r.denied) > 0);
    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    assert.equal((JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord).frames, 0);
  });
});

async function readPublicKey(t: TestContext, file: string): Promise<string> {
  const show = start(t, 'keys', ['show', file]);
  assert.equal((await show.exited).code, 0);
  return show.stdout.join('').trim();
}
