import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { GatewayRoutes } from '../common/web/gateway-routes';
import { HttpServer } from '../common/web/http-server';
import { MJPEG_BOUNDARY } from '../common/web/mjpeg-stream';
import { readMjpegParts } from './helpers/mjpeg';
import { createLogger } from '../common/log';
import { encodeFrame, type FrameHeader } from '../common/wire/protocol';
import { StreamCatalog } from '../common/web/stream-catalog';
import { StreamDiscovery } from '../hub/stream-discovery';

const header = (seq: number): FrameHeader => ({ session: 7, seq, captureUs: 1_000_000 + seq, sendUs: 1_000_000 + seq, width: 32, height: 24, codec: 'jpeg', quality: 80 });
const jpeg = (fill: number, size = 64): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(size, fill), Buffer.from([0xff, 0xd9])]);

function addFrame(catalog: StreamCatalog, topic: string, seq: number, body: Buffer, receiveUs = Date.now() * 1000): void {
  const parts = encodeFrame(topic, header(seq), body);
  catalog.add({ topic, header: header(seq), jpeg: body }, parts, receiveUs);
}

const TOKEN = 'gateway-test-token';
/** Every request carries the token, as a script would. */
const get = (url: string): Promise<Response> => fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });

async function serve(t: TestContext, catalog: StreamCatalog): Promise<{ url: string; routes: GatewayRoutes }> {
  const routes = new GatewayRoutes(catalog);
  const server = await HttpServer.start({ host: '127.0.0.1', port: 0, routes: [routes], log: createLogger('test', 'silent'), token: TOKEN });
  t.after(() => server.close());
  return { url: server.url, routes };
}

describe('web gateway routes', () => {
  test('/snapshot/TOPIC.jpg: 404 for an unknown topic, 503 for one asked for but without a frame yet, then the newest JPEG exactly', async (t) => {
    const catalog = new StreamCatalog();
    const { url } = await serve(t, catalog);
    assert.equal((await get(`${url}snapshot/nobody.jpg`)).status, 404);
    assert.equal((await get(`${url}snapshot/not%20a%20topic.jpg`)).status, 404);
    catalog.expect('cam1');
    assert.equal((await get(`${url}snapshot/cam1.jpg`)).status, 503);
    addFrame(catalog, 'cam1', 0, jpeg(1));
    addFrame(catalog, 'cam1', 1, jpeg(2));
    const response = await get(`${url}snapshot/cam1.jpg`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), 'image/jpeg');
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), jpeg(2));
  });

  test('a repeat does not replace the cached frame or count', async (t) => {
    const catalog = new StreamCatalog();
    const { url } = await serve(t, catalog);
    addFrame(catalog, 'cam1', 5, jpeg(5));
    addFrame(catalog, 'cam1', 4, jpeg(4));
    assert.deepEqual(Buffer.from(await (await get(`${url}snapshot/cam1.jpg`)).arrayBuffer()), jpeg(5));
    const streams = ((await (await get(`${url}streams.json`)).json()) as { streams: Array<Record<string, unknown>> }).streams;
    assert.equal(streams[0]?.frames, 1);
    assert.equal(streams[0]?.duplicates, 1);
  });

  test('/stream/TOPIC.mjpeg sends the cached frame at once, then each new one, as complete parts', async (t) => {
    const catalog = new StreamCatalog();
    const { url } = await serve(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(0));
    const response = await get(`${url}stream/cam1.mjpeg`);
    assert.equal(response.headers.get('content-type'), `multipart/x-mixed-replace;boundary=${MJPEG_BOUNDARY}`);
    const reading = readMjpegParts(response.body!, 3);
    for (let seq = 1; seq <= 2; seq++) addFrame(catalog, 'cam1', seq, jpeg(seq, 100 + seq));
    assert.deepEqual(await reading, [jpeg(0), jpeg(1, 101), jpeg(2, 102)]);
    assert.equal((await get(`${url}stream/nobody.mjpeg`)).status, 404);
  });

  test('a client that stops reading MJPEG skips frames and builds no backlog', async (t) => {
    const catalog = new StreamCatalog();
    const { url, routes } = await serve(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(0));
    const { port } = new URL(url);
    const socket = connect(Number(port), '127.0.0.1');
    t.after(() => socket.destroy());
    await once(socket, 'connect');
    socket.write(`GET /stream/cam1.mjpeg?token=${TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await once(socket, 'data');
    socket.pause(); // reads nothing more: the kernel buffers fill, then the server's response stops draining

    const frameBytes = 256 * 1024;
    let seq = 1;
    // Offer frames until the server has had to hold some back; each offer yields to the event loop so the socket can fill.
    while (routes.mjpegClientsSkipped() === 0) {
      addFrame(catalog, 'cam1', seq++, jpeg(seq % 256, frameBytes));
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 50; i++) addFrame(catalog, 'cam1', seq++, jpeg(seq % 256, frameBytes));
    const buffered = routes.mjpegBufferedBytes();
    assert.ok(buffered <= 2 * (frameBytes + 512), `the response buffers ${buffered} bytes: at most the frame being written and the newest one`);
  });

  test('/metrics is Prometheus text with per-stream counters and latency', async (t) => {
    const catalog = new StreamCatalog();
    const { url } = await serve(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(0));
    addFrame(catalog, 'cam1', 3, jpeg(3));
    catalog.onRejected('magic');
    const response = await get(`${url}metrics`);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^zerocam_frames_total\{topic="cam1"\} 2$/m);
    assert.match(text, /^zerocam_dropped_frames_total\{topic="cam1"\} 2$/m);
    assert.match(text, /^zerocam_bytes_total\{topic="cam1"\} 138$/m);
    assert.match(text, /^zerocam_rejected_messages_total\{reason="magic"\} 1$/m);
    assert.match(text, /^zerocam_latency_seconds\{topic="cam1",quantile="0.99"\} \d/m);
  });
});

/** A stand-in for the hub's forwarder: records what the gateway asks for and when it lets go. */
class DemandSpy {
  readonly active = new Map<string, number>();
  readonly asked: string[] = [];
  private waiters: Array<{ match: () => boolean; resolve: () => void }> = [];

  readonly demand = (prefix: string): (() => void) => {
    this.asked.push(prefix);
    this.active.set(prefix, (this.active.get(prefix) ?? 0) + 1);
    this.settle();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(prefix) ?? 1) - 1;
      if (left > 0) this.active.set(prefix, left);
      else this.active.delete(prefix);
      this.settle();
    };
  };

  readonly isWatched = (topic: string): boolean => [...this.active.keys()].some((prefix) => topic.startsWith(prefix));

  /** Resolves once `match` holds (checked at every ask and release). */
  until(match: () => boolean): Promise<void> {
    if (match()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  private settle(): void {
    this.waiters = this.waiters.filter((waiter) => (waiter.match() ? (waiter.resolve(), false) : true));
  }
}

describe('web gateway on demand (the hub: cameras nobody watches idle)', () => {
  async function serveOnDemand(t: TestContext, catalog: StreamCatalog, snapshotWaitMs = 60_000): Promise<{ url: string; spy: DemandSpy }> {
    const spy = new DemandSpy();
    const routes = new GatewayRoutes(catalog, {}, { demand: spy.demand, isWatched: spy.isWatched, snapshotWaitMs });
    const server = await HttpServer.start({ host: '127.0.0.1', port: 0, routes: [routes], log: createLogger('test', 'silent'), token: TOKEN });
    t.after(() => server.close());
    return { url: server.url, spy };
  }
  const STALE_US = (): number => (Date.now() - 60_000) * 1000;

  test('an MJPEG client asks for its stream while it is connected, and withdraws when it leaves', async (t) => {
    const catalog = new StreamCatalog();
    const { url, spy } = await serveOnDemand(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(0));
    const abort = new AbortController();
    const response = await fetch(`${url}stream/cam1.mjpeg`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: abort.signal });
    const reading = readMjpegParts(response.body!, 2);
    await spy.until(() => spy.active.has('cam1'));
    addFrame(catalog, 'cam1', 1, jpeg(1));
    assert.deepEqual(await reading, [jpeg(0), jpeg(1)]);
    abort.abort();
    await spy.until(() => spy.active.size === 0);
    assert.deepEqual(spy.asked, ['cam1']);
  });

  test('a snapshot of a stream with a fresh frame serves it and asks for nothing', async (t) => {
    const catalog = new StreamCatalog();
    const { url, spy } = await serveOnDemand(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(3));
    assert.deepEqual(Buffer.from(await (await get(`${url}snapshot/cam1.jpg`)).arrayBuffer()), jpeg(3));
    assert.deepEqual(spy.asked, []);
  });

  test('a snapshot of an idle stream asks for it, answers with the next frame, and withdraws', async (t) => {
    const catalog = new StreamCatalog();
    const { url, spy } = await serveOnDemand(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(0), STALE_US());
    const answer = get(`${url}snapshot/cam1.jpg`);
    await spy.until(() => spy.active.has('cam1'));
    addFrame(catalog, 'cam1', 1, jpeg(1));
    assert.deepEqual(Buffer.from(await (await answer).arrayBuffer()), jpeg(1));
    await spy.until(() => spy.active.size === 0);
  });

  test('a snapshot whose camera does not answer in time gets the newest frame there is, and the request is withdrawn', async (t) => {
    const catalog = new StreamCatalog();
    const { url, spy } = await serveOnDemand(t, catalog, 50);
    addFrame(catalog, 'cam1', 0, jpeg(9), STALE_US());
    const response = await get(`${url}snapshot/cam1.jpg`);
    assert.equal(response.status, 200);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), jpeg(9));
    assert.deepEqual(spy.asked, ['cam1']);
    await spy.until(() => spy.active.size === 0);
  });

  test('/streams.json says idle for a quiet stream nobody asks for, and stalled for one somebody does', async (t) => {
    const catalog = new StreamCatalog();
    const { url, spy } = await serveOnDemand(t, catalog);
    addFrame(catalog, 'cam1', 0, jpeg(1), STALE_US());
    addFrame(catalog, 'cam2', 0, jpeg(2), STALE_US());
    addFrame(catalog, 'cam3', 0, jpeg(3));
    const release = spy.demand('cam2');
    t.after(release);
    const streams = ((await (await get(`${url}streams.json`)).json()) as { streams: Array<{ topic: string; state: string }> }).streams;
    assert.deepEqual(Object.fromEntries(streams.map((s) => [s.topic, s.state])), { cam1: 'idle', cam2: 'stalled', cam3: 'live' });
  });
});

describe('StreamDiscovery', () => {
  test('asks for every stream at once and again each interval, each time for a pulse, and lets go when closed', async () => {
    const spy = new DemandSpy();
    const discovery = new StreamDiscovery(spy.demand, { intervalMs: 200, pulseMs: 20 });
    try {
      assert.deepEqual(spy.asked, ['']);
      await spy.until(() => spy.active.size === 0);
      await spy.until(() => spy.asked.length === 2);
      assert.deepEqual(spy.asked, ['', '']);
    } finally {
      discovery.close();
      discovery.close();
    }
    assert.equal(spy.active.size, 0);
  });
});
