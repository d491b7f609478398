import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { DEFAULTS } from '../common/defaults';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { webUrl } from './helpers/web-url';

async function startViewer(t: TestContext, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ viewer: CliProcess; url: string }> {
  const viewer = new CliProcess('viewer', ['--web', '--port', '0', ...args], env);
  t.after(() => viewer.stop());
  const url = String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
  return { viewer, url };
}

const tokenOf = (url: string): string => new URL(url).searchParams.get('token') ?? '';
const bare = (url: string, path: string): string => new URL(path, url).href;

/** A plain HTTP/1.1 request with exactly these headers (fetch will not send a foreign Host, nor two); pairs may repeat a name. */
async function rawRequest(port: number, path: string, headers: Record<string, string> | Array<[string, string]>): Promise<{ status: number; text: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  socket.end(`GET ${path} HTTP/1.1\r\n${pairs.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of socket) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('latin1');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), text };
}

// ---- Raw WebSocket frames, as a broken or hostile client writes them ----

interface FrameSpec {
  opcode: number;
  payload: Buffer;
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
}

function wsFrame({ opcode, payload, fin = true, rsv = 0, masked = true }: FrameSpec): Buffer {
  const head = [(fin ? 0x80 : 0) | (rsv << 4) | opcode];
  const mask = masked ? 0x80 : 0;
  if (payload.length < 126) head.push(mask | payload.length);
  else if (payload.length < 65536) head.push(mask | 126, payload.length >> 8, payload.length & 0xff);
  else {
    const length = Buffer.alloc(8);
    length.writeBigUInt64BE(BigInt(payload.length));
    head.push(mask | 127, ...length);
  }
  if (!masked) return Buffer.concat([Buffer.from(head), payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload.map((byte, i) => byte ^ key[i % 4]!));
  return Buffer.concat([Buffer.from(head), key, body]);
}

const closePayload = (code: number): Buffer => Buffer.from([code >> 8, code & 0xff]);

/** Each way a frame can break RFC 6455, and the close code the server must answer with. */
const VIOLATIONS: Array<{ name: string; bytes: () => Buffer; closeCode: number | undefined }> = [
  { name: 'a message over the size limit', bytes: () => wsFrame({ opcode: 1, payload: Buffer.alloc(DEFAULTS.webMaxMessageBytes + 1, 0x61) }), closeCode: 1009 },
  { name: 'invalid UTF-8 in a text message', bytes: () => wsFrame({ opcode: 1, payload: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]) }), closeCode: 1007 },
  { name: 'an unmasked client frame', bytes: () => wsFrame({ opcode: 1, payload: Buffer.from('{}'), masked: false }), closeCode: 1002 },
  { name: 'RSV1 set without an extension', bytes: () => wsFrame({ opcode: 1, payload: Buffer.from('{}'), rsv: 4 }), closeCode: 1002 },
  { name: 'reserved opcode 3', bytes: () => wsFrame({ opcode: 3, payload: Buffer.from('x') }), closeCode: 1002 },
  { name: 'close code 999', bytes: () => wsFrame({ opcode: 8, payload: closePayload(999) }), closeCode: 1002 },
  { name: 'a continuation frame with nothing to continue', bytes: () => wsFrame({ opcode: 0, payload: Buffer.from('x') }), closeCode: 1002 },
  { name: 'random bytes', bytes: () => randomBytes(1 + (randomBytes(1)[0]! % 64)), closeCode: undefined },
];

/**
 * Opens /feed on a raw socket, writes `bytes` once the server has answered the upgrade, and resolves
 * with the code of the close frame the server sent (undefined if it sent none) once it hung up.
 */
async function violate(port: number, token: string, bytes: Buffer): Promise<number | undefined> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(
    `GET /feed?token=${token} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let received = Buffer.alloc(0);
  let wrote = false;
  for await (const chunk of socket) {
    received = Buffer.concat([received, chunk as Buffer]);
    if (!wrote && received.includes('\r\n\r\n')) {
      assert.match(received.toString('latin1'), /^HTTP\/1\.1 101 /);
      wrote = true;
      // Then hang up our side: bytes that only start a frame must not leave the server waiting for the rest.
      socket.end(bytes);
    }
    if (wrote && closeCodeIn(received) !== undefined) break;
  }
  socket.destroy();
  return closeCodeIn(received);
}

/** The code of the first close frame after the HTTP headers (server frames are unmasked). */
function closeCodeIn(data: Buffer): number | undefined {
  let at = data.indexOf('\r\n\r\n');
  if (at < 0) return undefined;
  at += 4;
  while (at + 2 <= data.length) {
    const opcode = data[at]! & 0x0f;
    let length = data[at + 1]! & 0x7f;
    let start = at + 2;
    if (length === 126) {
      if (start + 2 > data.length) return undefined;
      length = data.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      if (start + 8 > data.length) return undefined;
      length = Number(data.readBigUInt64BE(start));
      start += 8;
    }
    if (start + length > data.length) return undefined;
    if (opcode === 8) return length >= 2 ? data.readUInt16BE(start) : 1005;
    at = start + length;
  }
  return undefined;
}

async function openDescriptors(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/** A page's WebSocket as a script opens it; resolves with the first thing the server says, or how it closed. */
function openFeed(url: string): Promise<{ ws: WebSocket; first: string }> {
  const ws = new WebSocket(bare(url, `feed?token=${tokenOf(url)}`).replace('http:', 'ws:'));
  return new Promise((resolve, reject) => {
    ws.once('message', (data: Buffer) => resolve({ ws, first: (JSON.parse(data.toString()) as { type: string }).type }));
    ws.once('close', (code, reason) => resolve({ ws, first: `closed ${code} ${reason.toString()}` }));
    ws.once('error', reject);
  });
}

describe('web access: a token and a Host check on every request', () => {
  test('401 and nothing else without the token; 200 with it as a cookie, a bearer token or ?token=', async (t) => {
    const { url } = await startViewer(t);
    const token = tokenOf(url);
    assert.match(token, /^[A-Za-z0-9_-]{32}$/, 'a random token is printed in the URL');

    const refused = await fetch(bare(url, '/'));
    assert.equal(refused.status, 401);
    const body = await refused.text();
    assert.doesNotMatch(body, /<html|canvas/i, 'no page content without the token');
    assert.equal((await fetch(bare(url, 'streams.json'))).status, 401);
    assert.equal((await fetch(bare(url, '/'), { headers: { authorization: 'Bearer wrong-token-value' } })).status, 401);

    const byQuery = await fetch(url);
    assert.equal(byQuery.status, 200);
    const cookie = byQuery.headers.get('set-cookie') ?? '';
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const [pair] = cookie.split(';');
    assert.equal((await fetch(bare(url, 'bundle.js'), { headers: { cookie: pair! } })).status, 200);
    assert.equal((await fetch(bare(url, 'streams.json'), { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(webUrl(url, 'snapshot/nobody.jpg'))).status, 404, 'past the token, the routes answer as before');

    const upgrade = await openFeed(url);
    assert.equal(upgrade.first, 'settings', 'the control: with the token the feed opens');
    upgrade.ws.close();
    const noToken = new WebSocket(bare(url, 'feed').replace('http:', 'ws:'));
    noToken.on('error', () => undefined);
    const [, response] = (await once(noToken, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(response.statusCode, 401);
    noToken.terminate();
  });

  test('403 for a Host header that is not this server, even with the token; --allowed-host adds a name', async (t) => {
    const { url } = await startViewer(t, ['--allowed-host', 'cams.lan']);
    const port = Number(new URL(url).port);
    const auth = { authorization: `Bearer ${tokenOf(url)}` };
    assert.equal((await rawRequest(port, '/streams.json', { Host: `evil.example:${port}`, ...auth })).status, 403);
    assert.equal((await rawRequest(port, '/streams.json', { ...auth })).status, 400, 'no Host at all: Node refuses HTTP/1.1 without one');
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `cams.lan:${port}`, 'CAMS.LAN']) {
      assert.equal((await rawRequest(port, '/streams.json', { Host: host, ...auth })).status, 200, host);
    }
  });

  test('400 for two Host headers, on the viewer\'s --web and the hub\'s --http, for requests and upgrades alike', async (t) => {
    const { url: viewerUrl } = await startViewer(t);
    const hub = new CliProcess('hub', ['--senders', ipcEndpoint(), '--receivers', ipcEndpoint(), '--http', '0', '--no-stats']);
    t.after(() => hub.stop());
    const hubUrl = String((await hub.waitForJson('stderr', (r) => r.event === 'serving')).url);
    for (const [server, url] of [['viewer', viewerUrl], ['hub', hubUrl]] as const) {
      const port = Number(new URL(url).port);
      const auth: [string, string] = ['Authorization', `Bearer ${tokenOf(url)}`];
      const here = `127.0.0.1:${port}`;
      assert.equal((await rawRequest(port, '/streams.json', [['Host', here], auth])).status, 200, `${server}: the control, one Host`);
      for (const hosts of [[here, here], [here, `evil.example:${port}`], [`evil.example:${port}`, here], [here, `localhost:${port}`]]) {
        const reply = await rawRequest(port, '/streams.json', [...hosts.map((host): [string, string] => ['Host', host]), auth]);
        assert.equal(reply.status, 400, `${server}: Host ${hosts.join(' and Host ')}`);
        assert.doesNotMatch(reply.text, /"streams"/, `${server}: nothing past the check`);
      }
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(
        `GET /feed?token=${tokenOf(url)} HTTP/1.1\r\nHost: ${here}\r\nhost: evil.example:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      assert.match(Buffer.concat(chunks).toString('latin1'), /^HTTP\/1\.1 400 Bad Request\r\n/, `${server}: a WebSocket upgrade with two Host headers`);
    }
  });

  test('zerocam-hub --http with ZEROCAM_TOKEN: /streams.json by bearer and a snapshot by ?token=, as a deployment fetches them', async (t) => {
    const token = 'deploy-token-0123456789';
    const hub = new CliProcess('hub', ['--senders', ipcEndpoint(), '--receivers', ipcEndpoint(), '--http', '0', '--no-stats'], { ZEROCAM_TOKEN: token });
    t.after(() => hub.stop());
    const url = String((await hub.waitForJson('stderr', (r) => r.event === 'serving')).url);
    assert.equal(new URL(url).searchParams.get('token'), null, 'a token the user chose is not printed');
    assert.equal((await fetch(bare(url, 'streams.json'))).status, 401);
    assert.equal((await fetch(bare(url, 'streams.json'), { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(bare(url, `snapshot/cam1.jpg?token=${token}`))).status, 404, 'no such stream yet: past the token check, the route answers');
    assert.equal((await fetch(bare(url, 'snapshot/cam1.jpg?token=not-the-token'))).status, 401);
  });
});

describe('web feed: no input ends or wedges the server', () => {
  test('each protocol violation closes that one connection with its close code', async (t) => {
    const { url } = await startViewer(t);
    const port = Number(new URL(url).port);
    for (const violation of VIOLATIONS.filter((v) => v.closeCode !== undefined)) {
      assert.equal(await violate(port, tokenOf(url), violation.bytes()), violation.closeCode, violation.name);
    }
  });

  test('thousands of malformed frames and messages: the server still serves its page, with its descriptors back to baseline', async (t) => {
    const { viewer, url } = await startViewer(t);
    const port = Number(new URL(url).port);
    const token = tokenOf(url);
    const pid = viewer.pid!;
    // Baseline once the server has served a page and a feed, so lazily opened descriptors are counted.
    // Raw requests with Connection: close, so no kept-alive connection is in either count.
    const pagePath = `/?token=${token}`;
    assert.equal((await rawRequest(port, pagePath, { Host: `127.0.0.1:${port}` })).status, 200);
    const warmUp = await openFeed(url);
    warmUp.ws.close();
    await once(warmUp.ws, 'close');
    const baseline = await openDescriptors(pid);

    // Bad frames, each on its own connection (each ends it), at most the per-client page limit at once.
    const rounds = 250;
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < VIOLATIONS.length; i += DEFAULTS.webMaxPagesPerClient) {
        await Promise.all(VIOLATIONS.slice(i, i + DEFAULTS.webMaxPagesPerClient).map((violation) => violate(port, token, violation.bytes())));
      }
    }
    // Bad messages in well-formed frames, on one connection: garbage JSON, binary, unknown types, oversized fields,
    // and an ipc:// endpoint (refused without --allow-ipc); none of them closes it.
    const { ws, first } = await openFeed(url);
    assert.equal(first, 'settings');
    const replies: Array<{ requestId?: number; ok?: boolean; error?: string }> = [];
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) replies.push(JSON.parse(data.toString()) as { requestId?: number });
    });
    const junk = ['{', 'null', '[]', '{"type":"nope"}', '{"type":"connect"}', '{"type":"connect","requestId":-1}', '{"type":"displayed","key":7}', 'x'.repeat(60_000)];
    for (let i = 0; i < 2000; i++) ws.send(i % 9 === 8 ? randomBytes(32) : junk[i % junk.length]!);
    ws.send(JSON.stringify({ type: 'connect', requestId: 1, request: { endpoint: ipcEndpoint(), pattern: 'sub', topics: [] } }));
    while (!replies.some((r) => r.requestId === 1)) await once(ws, 'message');
    const ipcReply = replies.find((r) => r.requestId === 1)!;
    assert.equal(ipcReply.ok, false);
    assert.match(ipcReply.error ?? '', /--allow-ipc/);
    ws.close();
    await once(ws, 'close');

    assert.equal(viewer.stderr.filter((line) => /Error|at .*\.js:\d+/.test(line) && !line.startsWith('{')).length, 0, 'no stack trace');
    const page = await rawRequest(port, pagePath, { Host: `127.0.0.1:${port}` });
    assert.equal(page.status, 200);
    assert.match(page.text, /<canvas|id="grid"/);
    // Descriptors close as the kernel and libuv finish with each socket: poll /proc (no event says so).
    let now = await openDescriptors(pid);
    for (let i = 0; i < 100 && now > baseline; i++) {
      await delay(50);
      now = await openDescriptors(pid);
    }
    // At most: the warm-up feed's server side may still have been closing when the baseline was read.
    assert.ok(now <= baseline, `descriptors: ${now} now, ${baseline} before`);
  });

  test('limits: pages per client, and connections per page, each over the limit told why', async (t) => {
    const { url } = await startViewer(t);
    const pages = await Promise.all(Array.from({ length: DEFAULTS.webMaxPagesPerClient }, () => openFeed(url)));
    t.after(() => pages.forEach(({ ws }) => ws.terminate()));
    assert.deepEqual(
      pages.map((p) => p.first),
      pages.map(() => 'settings'),
    );
    const over = await openFeed(url);
    assert.match(over.first, new RegExp(`^closed 1013 too many viewer pages are open from .* \\(at most ${DEFAULTS.webMaxPagesPerClient}\\)`));

    const { ws } = pages[0]!;
    const replies = new Map<number, { ok: boolean; error?: string }>();
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const message = isBinary ? undefined : (JSON.parse(data.toString()) as { type: string; requestId: number; ok: boolean; error?: string });
      if (message?.type === 'reply') replies.set(message.requestId, message);
    });
    // tcp to a port where nothing listens: ZeroMQ connects lazily, so each one opens at once and keeps retrying.
    const count = DEFAULTS.webMaxConnectionsPerPage + 1;
    for (let id = 1; id <= count; id++) ws.send(JSON.stringify({ type: 'connect', requestId: id, request: { endpoint: 'tcp://127.0.0.1:9', pattern: 'sub', topics: [] } }));
    while (replies.size < count) await once(ws, 'message');
    const refused = [...replies.values()].filter((r) => !r.ok);
    assert.equal(refused.length, 1);
    assert.match(refused[0]!.error ?? '', new RegExp(`already has ${DEFAULTS.webMaxConnectionsPerPage} connections, the most the server allows`));
  });
});
