import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WebSocket } from 'ws';
import * as zmq from 'zeromq';
import { encodeImagezmqJpeg } from '../common/wire/imagezmq-protocol';
import { FramePublisher } from '../sender/send/frame-publisher';
import { structuredJpeg } from './helpers/media';
import { createLogger } from '../common/log';
import { InvalidMessageError } from '../common/errors';
import { parseClientMessage, parseConnectRequest } from '../common/viewer/message-validation';
import { NewestWaits } from '../common/newest-waits';
import { ViewerEngine } from '../common/viewer/viewer-engine';
import type { FrameMeta, StatusUpdate } from '../common/viewer/viewer-messages';
import { ViewerWebServer } from '../electron/web-server';
import { isTrustedSender, parseDisplayedArgs, secureWindowOptions } from '../electron/window-security';
import { bindEndpoint } from './helpers/endpoints';

const jpeg = structuredJpeg(32, 24);
const fields = (seq: number) => ({ seq, captureUs: 1_000_000 + seq, width: 32, height: 24, codec: 'jpeg' as const, quality: 80 });

/** A sink that records what the engine sends and lets a test wait for a status that matches. */
class RecordingSink {
  readonly frames: FrameMeta[] = [];
  private waiters: Array<{ match: (u: StatusUpdate) => boolean; resolve: (u: StatusUpdate) => void }> = [];
  frame(meta: FrameMeta): void {
    this.frames.push(meta);
  }
  status(update: StatusUpdate): void {
    this.waiters = this.waiters.filter((w) => (w.match(update) ? (w.resolve(update), false) : true));
  }
  next(match: (u: StatusUpdate) => boolean): Promise<StatusUpdate> {
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }
}

describe('NewestWaits', () => {
  test('the first frame goes at once; later ones wait, newest wins, and replaced ones count as skipped', () => {
    const skippedTickets: number[] = [];
    const flow = new NewestWaits<{ ticket: number }>((item) => skippedTickets.push(item.ticket));
    const displayed = (ticket: number) => flow.finish((inFlight) => inFlight.ticket === ticket);
    assert.deepEqual(flow.offer({ ticket: 1 }), { ticket: 1 });
    assert.equal(flow.offer({ ticket: 2 }), undefined);
    assert.equal(flow.offer({ ticket: 3 }), undefined);
    assert.equal(flow.skipped, 1);
    assert.deepEqual(skippedTickets, [2]);
    assert.deepEqual(displayed(1), { ticket: 3 });
    assert.equal(displayed(3), undefined);
    assert.deepEqual(flow.offer({ ticket: 4 }), { ticket: 4 }, 'nothing in flight: sent at once');
  });

  test('an ack for a frame that is not in flight changes nothing', () => {
    const flow = new NewestWaits<{ ticket: number }>();
    flow.offer({ ticket: 1 });
    flow.offer({ ticket: 2 });
    assert.equal(flow.finish((inFlight) => inFlight.ticket === 7), undefined);
    assert.equal(flow.offer({ ticket: 3 }), undefined, 'still in flight');
  });

  test('reset forgets both and hands back the waiting item; counts stay', () => {
    const flow = new NewestWaits<string>();
    flow.offer('a');
    flow.offer('b');
    flow.offer('c');
    assert.equal(flow.reset(), 'c');
    assert.equal(flow.skipped, 1);
    assert.equal(flow.offer('d'), 'd', 'nothing in flight after a reset');
  });
});

describe('ViewerEngine', () => {
  test('shows an imagezmq PUB sender (wire imagezmq): topic from msg, seq counted, no capture time', async (t) => {
    const publisher = new zmq.Publisher({ linger: 0 });
    t.after(() => publisher.close());
    await publisher.bind(bindEndpoint('inproc'));
    const sink = new RecordingSink();
    const engine = new ViewerEngine(sink, { statusIntervalMs: 100 });
    t.after(() => engine.close());
    await engine.connect(parseConnectRequest({ endpoint: publisher.lastEndpoint, pattern: 'sub', topics: [], wire: 'imagezmq' }));
    const arrived = sink.next((u) => (u.streams[0]?.frames ?? 0) >= 1);
    let waiting = true;
    void arrived.finally(() => (waiting = false));
    // SUB misses what was published before its subscription reached the PUB: publish until one arrives.
    while (waiting) {
      await publisher.send(encodeImagezmqJpeg('pi-cam1 porch', jpeg));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await arrived;
    assert.deepEqual([sink.frames[0]?.topic, sink.frames[0]?.seq, sink.frames[0]?.captureUs], ['pi-cam1', 0, 0]);
  });

  test('never has more than one undisplayed frame per stream in flight; the newest is sent on ack', async (t) => {
    // A queue deep enough for all ten frames, so none is skipped before the engine sees it.
    const sender = await FramePublisher.open({ pattern: 'push', attachment: { bind: bindEndpoint('inproc') }, topic: 'cam1', sendHighWaterMark: 64 }, 1);
    t.after(() => sender.close());
    const sink = new RecordingSink();
    const engine = new ViewerEngine(sink, { statusIntervalMs: 100 });
    t.after(() => engine.close());
    await engine.connect({ endpoint: sender.endpoint, pattern: 'pull', topics: [] });

    for (let seq = 0; seq < 10; seq++) assert.equal(await sender.sendJpg(fields(seq), jpeg, 1), true);
    const update = await sink.next((u) => u.streams[0]?.frames === 10);
    assert.equal(sink.frames.length, 1, 'one frame in flight, no matter how many arrived');
    assert.equal(sink.frames[0]?.seq, 0);
    assert.equal(update.streams[0]?.skipped, 8, 'ten arrived: one in flight, one waiting, eight replaced');

    engine.displayed(sink.frames[0].key, sink.frames[0].ticket);
    assert.equal(sink.frames.length, 2);
    assert.equal(sink.frames[1]?.seq, 9, 'the next frame sent is the newest');
    engine.displayed(sink.frames[1].key, sink.frames[1].ticket);
    assert.equal(sink.frames.length, 2, 'nothing newer waited');
  });

  test('a stream goes waiting -> live -> stalled when frames stop -> live when they return', async (t) => {
    const sender = await FramePublisher.open({ pattern: 'push', attachment: { bind: bindEndpoint('inproc') }, topic: 'cam1' }, 1);
    t.after(() => sender.close());
    const sink = new RecordingSink();
    const engine = new ViewerEngine(sink, { stallAfterMs: 300, statusIntervalMs: 100 });
    t.after(() => engine.close());
    const state = (u: StatusUpdate): string | undefined => u.streams.find((s) => s.topic === 'cam1')?.state;

    const waiting = sink.next((u) => state(u) === 'waiting');
    const connection = await engine.connect({ endpoint: sender.endpoint, pattern: 'pull', topics: ['cam1'] });
    await waiting;
    assert.equal(connection.state, 'waiting');
    const live = sink.next((u) => state(u) === 'live');
    await sender.sendJpg(fields(0), jpeg, 1);
    await live;
    await sink.next((u) => state(u) === 'stalled');
    const back = sink.next((u) => state(u) === 'live');
    await sender.sendJpg(fields(1), jpeg, 1);
    const update = await back;
    assert.equal(update.connections[0]?.state, 'live');
  });

  test('close() is idempotent and connect() afterwards is refused', async () => {
    const engine = new ViewerEngine(new RecordingSink());
    engine.close();
    engine.close();
    await assert.rejects(engine.connect({ endpoint: 'inproc://nothing', pattern: 'sub', topics: [] }), /shutting down/);
  });
});

describe('viewer input validation', () => {
  test('parseConnectRequest accepts a good request and drops unknown fields', () => {
    assert.deepEqual(parseConnectRequest({ endpoint: 'tcp://cam:5555', pattern: 'pull', topics: ['cam1'], extra: 1 }), {
      endpoint: 'tcp://cam:5555',
      pattern: 'pull',
      topics: ['cam1'],
    });
    assert.deepEqual(parseConnectRequest({ endpoint: 'ipc:///tmp/x' }), { endpoint: 'ipc:///tmp/x', pattern: 'sub', topics: [] });
  });

  const bad: Array<[string, unknown]> = [
    ['a string', 'tcp://cam:5555'],
    ['no endpoint', { pattern: 'sub' }],
    ['a wildcard host', { endpoint: 'tcp://*:5555' }],
    ['a file URL', { endpoint: 'file:///etc/passwd' }],
    ['a pub pattern', { endpoint: 'tcp://cam:5555', pattern: 'pub' }],
    ['a topic with a slash', { endpoint: 'tcp://cam:5555', topics: ['../x'] }],
    ['topics that are not a list', { endpoint: 'tcp://cam:5555', topics: 'cam1' }],
    ['an endpoint of 10 kB', { endpoint: `tcp://${'a'.repeat(10_000)}:1` }],
  ];
  for (const [what, value] of bad) {
    test(`parseConnectRequest refuses ${what}`, () => {
      assert.throws(() => parseConnectRequest(value), InvalidMessageError);
    });
  }

  test('parseClientMessage refuses unknown types and malformed acks', () => {
    assert.throws(() => parseClientMessage({ type: 'eval', code: '1' }), InvalidMessageError);
    assert.throws(() => parseClientMessage({ type: 'displayed', key: 'c1/cam1', ticket: -1 }), InvalidMessageError);
    assert.throws(() => parseClientMessage(null), InvalidMessageError);
    assert.throws(
      () => parseClientMessage({ type: 'connect', requestId: 7, request: { endpoint: 'tcp://nowhere' } }),
      (error: unknown) => error instanceof InvalidMessageError && error.requestId === 7,
      'a bad connect request still names its request, so the page gets an answer',
    );
    assert.deepEqual(parseClientMessage({ type: 'displayed', key: 'c1/cam1', ticket: 3 }), { type: 'displayed', key: 'c1/cam1', ticket: 3 });
  });
});

describe('Electron window security (checked under Node)', () => {
  test('the window is sandboxed, context-isolated, without Node, and without webviews', () => {
    const prefs = secureWindowOptions('/app/preload.bundle.js').webPreferences!;
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.nodeIntegrationInWorker, false);
    assert.equal(prefs.webSecurity, true);
    assert.equal(prefs.webviewTag, false);
    assert.equal(prefs.preload, '/app/preload.bundle.js');
  });

  test('IPC is answered only for the viewer page itself', () => {
    const index = 'file:///app/dist/viewer-page/index.html';
    assert.equal(isTrustedSender(index, index), true);
    assert.equal(isTrustedSender('https://example.com/', index), false);
    assert.equal(isTrustedSender(undefined, index), false);
    assert.equal(isTrustedSender(`${index}#x`, index), false);
  });

  test('displayed acks from IPC are type-checked', () => {
    assert.deepEqual(parseDisplayedArgs('c1/cam1', 4), { key: 'c1/cam1', ticket: 4 });
    assert.equal(parseDisplayedArgs({}, 4), undefined);
    assert.equal(parseDisplayedArgs('c1/cam1', '4'), undefined);
    assert.equal(parseDisplayedArgs('c1/cam1', 1.5), undefined);
  });
});

describe('ViewerWebServer', () => {

  test('serves the renderer with a strict CSP, and nothing else', async (t) => {
    const server = await ViewerWebServer.start({ host: '127.0.0.1', port: 0, settings: { connections: [] }, log: createLogger('test') });
    t.after(() => server.close());
    const index = await fetch(server.pageUrl);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
    assert.match(await index.text(), /<canvas|id="grid"/);
    for (const path of ['bundle.js.map', 'main.js', '../package.json', 'viewer-app.js']) {
      const url = new URL(path, server.url);
      url.search = new URL(server.pageUrl).search;
      assert.equal((await fetch(url)).status, 404, path);
    }
  });

  test('refuses a WebSocket from another origin, accepts its own page', async (t) => {
    const server = await ViewerWebServer.start({ host: '127.0.0.1', port: 0, settings: { connections: [] }, log: createLogger('test') });
    t.after(() => server.close());
    const feed = new URL(`feed${new URL(server.pageUrl).search}`, server.url).href.replace('http:', 'ws:');
    const outcome = (origin: string): Promise<string> =>
      new Promise((resolve) => {
        const ws = new WebSocket(feed, { origin });
        ws.on('message', (data: Buffer) => {
          resolve((JSON.parse(data.toString()) as { type: string }).type);
          ws.close();
        });
        ws.on('unexpected-response', (_req, res) => resolve(`HTTP ${res.statusCode}`));
        ws.on('error', () => undefined);
      });
    assert.equal(await outcome('http://evil.example'), 'HTTP 403');
    assert.equal(await outcome(server.url.replace(/\/$/, '')), 'settings');
  });
});
