import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { WebSocket } from 'ws';
import { openPage, screenshot } from './helpers/browser';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { tempDir } from './helpers/temp-dir';

const run = promisify(execFile);
const TOKEN = 'tls-test-token';

interface Certificate {
  cert: string;
  key: string;
  ca: Buffer;
}

/** A self-signed certificate for 127.0.0.1 and localhost, made by openssl as a user would. */
async function selfSigned(dir: string, name = 'server'): Promise<Certificate> {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert]);
  return { cert, key, ca: await readFile(cert) };
}

function start(t: TestContext, name: 'viewer' | 'hub', args: string[]): CliProcess {
  const child = new CliProcess(name, args, { ZEROCAM_TOKEN: TOKEN });
  t.after(() => child.stop());
  return child;
}

async function servingUrl(child: CliProcess): Promise<URL> {
  return new URL(String((await child.waitForJson('stderr', (r) => r.event === 'serving')).url));
}

/** GET over HTTPS, trusting only `ca`. */
async function httpsGet(url: URL, ca: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const req = httpsRequest(url, { ca, headers });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') };
}

describe('HTTPS for the web server (--tls-cert, --tls-key)', () => {
  test('zerocam-viewer --web serves its page over https, keeps the token in a Secure cookie, and feeds the page over wss', async (t) => {
    const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
    const viewer = start(t, 'viewer', ['--web', '--port', '0', '--connect', ipcEndpoint(), '--tls-cert', certificate.cert, '--tls-key', certificate.key]);
    const url = await servingUrl(viewer);
    assert.equal(url.protocol, 'https:');

    assert.equal((await httpsGet(url, certificate.ca)).status, 401, 'the token is still needed');
    const page = await httpsGet(new URL(`?token=${TOKEN}`, url), certificate.ca);
    assert.equal(page.status, 200);
    assert.match(page.body, /<html/i);
    const cookie = String(page.headers['set-cookie']);
    assert.match(cookie, /; Secure/);

    const feed = new WebSocket(new URL('feed', url).href.replace(/^https:/, 'wss:'), { ca: certificate.ca, headers: { authorization: `Bearer ${TOKEN}`, origin: url.origin } });
    t.after(() => feed.terminate());
    const [first] = (await once(feed, 'message')) as [Buffer];
    assert.equal((JSON.parse(first.toString('utf8')) as { type: string }).type, 'settings');
  });

  test('Chromium opens the https page and shows the stream live (its feed over wss)', async (t) => {
    const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
    const endpoint = ipcEndpoint();
    const sender = new CliProcess('sender', ['--bind', endpoint, '--topic', 'cam1', '--width', '320', '--height', '240', '--no-stats']);
    t.after(() => sender.stop());
    await sender.ready();
    const viewer = start(t, 'viewer', ['--web', '--port', '0', '--connect', endpoint, '--tls-cert', certificate.cert, '--tls-key', certificate.key]);
    const url = await servingUrl(viewer);
    const page = await openPage(t, new URL(`?token=${TOKEN}`, url).href, { ignoreHTTPSErrors: true });
    await page.waitForSelector('.tile[data-stream$="/cam1"][data-state="live"]');
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('.tile[data-stream$="/cam1"]')?.dataset.displayed ?? 0) > 3);
    await screenshot(page, 'viewer-https');
  });

  test('plain HTTP to the HTTPS port gets nothing, and the server goes on serving', async (t) => {
    const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
    const viewer = start(t, 'viewer', ['--web', '--port', '0', '--tls-cert', certificate.cert, '--tls-key', certificate.key]);
    const url = await servingUrl(viewer);
    const plain = httpRequest({ host: url.hostname, port: url.port, path: `/?token=${TOKEN}` });
    plain.end();
    const outcome = await new Promise<string>((resolve) => {
      plain.on('response', (res) => resolve(`status ${res.statusCode}`));
      plain.on('error', () => resolve('error'));
    });
    assert.equal(outcome, 'error');
    assert.equal((await httpsGet(new URL(`?token=${TOKEN}`, url), certificate.ca)).status, 200);
  });

  test('zerocam-hub --http serves its gateway over https', async (t) => {
    const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
    const hub = start(t, 'hub', ['--senders', ipcEndpoint(), '--receivers', ipcEndpoint(), '--http', '0', '--tls-cert', certificate.cert, '--tls-key', certificate.key]);
    const url = await servingUrl(hub);
    assert.equal(url.protocol, 'https:');
    const streams = await httpsGet(new URL('streams.json', url), certificate.ca, { authorization: `Bearer ${TOKEN}` });
    assert.equal(streams.status, 200);
    assert.deepEqual(JSON.parse(streams.body), { streams: [] });
  });

  describe('usage errors: one line, exit 2', () => {
    async function assertUsageError(t: TestContext, args: string[], message: RegExp): Promise<void> {
      const viewer = start(t, 'viewer', ['--web', '--port', '0', ...args]);
      const { code } = await viewer.exited;
      const lines = viewer.stderr.filter(Boolean);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^zerocam-viewer: /);
      assert.match(lines[0]!, message);
      assert.equal(code, 2);
    }

    test('--tls-cert without --tls-key', async (t) => {
      const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
      await assertUsageError(t, ['--tls-cert', certificate.cert], /--tls-cert and --tls-key go together/);
    });

    test('a certificate file that does not exist', async (t) => {
      const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
      await assertUsageError(t, ['--tls-cert', '/nonexistent/zerocam.crt', '--tls-key', certificate.key], /cannot read --tls-cert \/nonexistent\/zerocam\.crt/);
    });

    test('a key that is not the certificate’s', async (t) => {
      const dir = await tempDir(t, 'zc-tls-');
      const [one, other] = [await selfSigned(dir, 'one'), await selfSigned(dir, 'other')];
      await assertUsageError(t, ['--tls-cert', one.cert, '--tls-key', other.key], /are not a usable PEM certificate and its key/);
    });

    test('a certificate file that is not PEM', async (t) => {
      const certificate = await selfSigned(await tempDir(t, 'zc-tls-'));
      await assertUsageError(t, ['--tls-cert', join(__dirname, 'web-tls.test.js'), '--tls-key', certificate.key], /not a usable PEM certificate/);
    });
  });
});
