import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { readKeyFile } from '../common/sockets/curve-keys';
import { InvalidMessageError } from '../common/errors';
import { parseConnectRequest } from '../common/viewer/message-validation';
import { launchBrowser, screenshot } from './helpers/browser';
import { CliProcess } from './helpers/cli-process';

function start(t: TestContext, name: 'sender' | 'viewer' | 'keys', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

describe('the viewer with CURVE', () => {
  test('a connect request takes an optional server public key, checked like every other field', () => {
    const { publicKey } = zmq.curveKeyPair();
    const base = { endpoint: 'tcp://127.0.0.1:5555', pattern: 'sub', topics: [] };
    assert.equal(parseConnectRequest({ ...base, serverKey: publicKey }).serverKey, publicKey);
    assert.equal('serverKey' in parseConnectRequest({ ...base, serverKey: '' }), false, 'an empty form field means plaintext');
    assert.equal('serverKey' in parseConnectRequest(base), false);
    for (const serverKey of ['short', publicKey.slice(0, 39) + '~', 42, publicKey + publicKey]) {
      assert.throws(() => parseConnectRequest({ ...base, serverKey }), InvalidMessageError);
    }
  });

  /** Keys for a camera and a viewer, and a sender that lets only the viewer's key in. */
  async function lockedSender(t: TestContext): Promise<{ dir: string; cam: string; viewerSecret: string; endpoint: string; sender: CliProcess }> {
    const dir = await mkdtemp(join(tmpdir(), 'zc-viewer-curve-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    for (const name of ['cam', 'viewer']) assert.equal((await start(t, 'keys', ['generate', join(dir, name)]).exited).code, 0);
    await mkdir(join(dir, 'viewers'));
    await copyFile(join(dir, 'viewer.pub'), join(dir, 'viewers', 'viewer.pub'));
    const sender = start(t, 'sender', ['--bind', 'tcp://127.0.0.1:*', '--topic', 'locked', '--width', '320', '--height', '240', '--no-stats', '--curve-key', join(dir, 'cam.key'), '--curve-allow', join(dir, 'viewers')]);
    const endpoint = await sender.ready();
    return { dir, cam: readKeyFile(join(dir, 'cam.pub')).publicKey, viewerSecret: readKeyFile(join(dir, 'viewer.key')).secretKey!, endpoint, sender };
  }

  async function startViewer(t: TestContext, args: string[]): Promise<string> {
    const viewer = start(t, 'viewer', ['--web', '--port', '0', ...args]);
    return String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
  }

  test('--web: a server key typed into the form gets frames from an allowlisting sender, and the page never sees the viewer\'s secret key', async (t) => {
    const { dir, cam, viewerSecret, endpoint, sender } = await lockedSender(t);
    const url = await startViewer(t, ['--curve-key', join(dir, 'viewer.key')]);

    const browser = await launchBrowser(t);
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const seenByPage: string[] = [];
    page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => seenByPage.push(typeof payload === 'string' ? payload : payload.toString('latin1'))));
    await page.goto(url);
    await page.fill('#endpoint', endpoint);
    await page.fill('#topics', '');
    await page.fill('#server-key', cam);
    await page.click('#connect-form button[type=submit]');
    await page.waitForSelector('.tile[data-stream$="/locked"][data-state="live"]');
    assert.match((await page.textContent('#connections')) ?? '', /CURVE/);
    await screenshot(page, 'viewer-curve');

    seenByPage.push(await page.content(), JSON.stringify(await page.evaluate(() => ({ ...localStorage }))));
    assert.ok(seenByPage.some((text) => text.includes(cam)), 'the page does see the public server key it typed');
    assert.equal(seenByPage.filter((text) => text.includes(viewerSecret)).length, 0, 'the viewer secret key reached the page');
    assert.equal(sender.stderr.filter((line) => line.includes('"curve-denied"')).length, 0);
  });

  test('--web with --connect and --curve-server: the stream is live at once and the form shows the server key', async (t) => {
    const { dir, cam, endpoint } = await lockedSender(t);
    const url = await startViewer(t, ['--connect', endpoint, '--curve-server', join(dir, 'cam.pub'), '--curve-key', join(dir, 'viewer.key')]);
    const page = await (await launchBrowser(t)).newPage();
    await page.goto(url);
    await page.waitForSelector('.tile[data-stream$="/locked"][data-state="live"]');
    assert.equal(await page.inputValue('#server-key'), cam);
  });
});
