import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import * as zmq from 'zeromq';
import { parseDurationIn } from '../common/cli/values';
import { compactFrame } from '../common/web/compact-frame';
import { createMetricsRegistry } from '../common/web/metrics';
import { LinkReporter } from '../common/sockets/link-reporter';
import { createLogger } from '../common/log';
import { decodeLinkReport } from '../common/wire/link-report';
import { encodeFrame, type Frame, type FrameHeader } from '../common/wire/protocol';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { StreamBounds } from '../common/stats/stream-bounds';
import { streamsPart, withBusiestStreams } from '../common/stats/stream-listing';
import { StreamCatalog } from '../common/web/stream-catalog';
import { ViewerEngine, type FrameSink } from '../common/viewer/viewer-engine';
import type { StatusUpdate } from '../common/viewer/viewer-messages';
import { bindEndpoint } from './helpers/endpoints';
import { structuredJpeg } from './helpers/media';

const header = (session: number, seq = 0): FrameHeader => ({ session, seq, captureUs: 1_000_000, sendUs: 1_000_000, width: 32, height: 24, codec: 'jpeg', quality: 80 });
const JPEG = structuredJpeg(32, 24);
const frame = (topic: string, seq = 0, jpeg = JPEG): Frame => ({ topic, header: header(1, seq), jpeg });

/** Waits for `promise` while keeping the process alive: the timers under test are unref'd, as they must not hold a process open. */
async function alive<T>(promise: Promise<T>): Promise<T> {
  const timer = setInterval(() => undefined, 1000);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

/** A clock the test moves by hand. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let nowMs = 1000;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

describe('StreamBounds', () => {
  test('tracks up to maxStreams; a frame of a new stream beyond that is refused and counted, one of a tracked stream never is', () => {
    const clock = manualClock();
    const bounds = new StreamBounds({ ttlMs: 60_000, maxStreams: 2 }, clock.now);
    const refused: string[] = [];
    bounds.onRefused((topic) => refused.push(topic));
    assert.deepEqual(['a', 'b', 'c', 'a', 'c', 'b'].map((topic) => bounds.admit(topic)), [true, true, false, true, false, true]);
    assert.deepEqual([bounds.size, bounds.refusedFrames, refused], [2, 2, ['c', 'c']]);
    bounds.close();
  });

  test('a stream is forgotten once it has sent nothing for the TTL, oldest first, and listeners drop its state', () => {
    const clock = manualClock();
    const bounds = new StreamBounds({ ttlMs: 1000, maxStreams: 10 }, clock.now);
    const forgotten: string[] = [];
    bounds.onForget((topic) => forgotten.push(topic));
    bounds.admit('a');
    clock.advance(400);
    bounds.admit('b');
    clock.advance(400);
    bounds.admit('a'); // a frame keeps a stream
    clock.advance(700);
    assert.equal(bounds.expire(), 1);
    assert.deepEqual(forgotten, ['b']);
    clock.advance(300);
    assert.equal(bounds.expire(), 1);
    assert.deepEqual([forgotten, bounds.size, bounds.forgottenStreams, bounds.has('a')], [['b', 'a'], 0, 2, false]);
    bounds.close();
  });

  test('a forgotten stream makes room: a new stream refused before is admitted once an old one expired', () => {
    const clock = manualClock();
    const bounds = new StreamBounds({ ttlMs: 1000, maxStreams: 1 }, clock.now);
    assert.equal(bounds.admit('old'), true);
    assert.equal(bounds.admit('new'), false);
    clock.advance(1000);
    assert.equal(bounds.admit('new'), true, 'admit() forgets expired streams first');
    assert.deepEqual([bounds.has('old'), bounds.refusedFrames, bounds.forgottenStreams], [false, 1, 1]);
    bounds.close();
  });

  test('streams expire while nothing happens: its timer sweeps while any stream is tracked', async () => {
    const bounds = new StreamBounds({ ttlMs: 50, maxStreams: 10 });
    const forgotten = new Promise<string>((resolve) => bounds.onForget(resolve));
    bounds.admit('quiet');
    assert.equal(await alive(forgotten), 'quiet');
    assert.equal(bounds.size, 0);
    bounds.close();
  });
});

describe('bounded per-stream state', () => {
  test('ReceiverStats: a refused frame is neither counted nor kept; a forgotten stream leaves the list, its counts stay in the totals', () => {
    const stats = new ReceiverStats(2000, { ttlMs: 60_000, maxStreams: 2 });
    assert.ok(stats.onFrame(frame('a'), 2_000_000));
    assert.ok(stats.onFrame(frame('a', 1), 2_000_000));
    assert.ok(stats.onFrame(frame('b'), 2_000_000));
    assert.equal(stats.onFrame(frame('c'), 2_000_000), undefined);
    assert.equal(stats.bounds.has('c'), false, 'refused, not a repeat');
    stats.stream('c').saved++; // a late count of an untracked stream goes nowhere
    let summary = stats.final(2000);
    assert.deepEqual([summary.frames, summary.refused, summary.streamCount, Object.keys(summary.streams)], [3, 1, 2, ['a', 'b']]);
    stats.bounds.forget('a');
    summary = stats.final(2000);
    assert.deepEqual([summary.frames, summary.forgotten, summary.streamCount, Object.keys(summary.streams)], [3, 1, 1, ['b']]);
    assert.equal(summary.latencyFrames, 3, "the forgotten stream's latency samples stay in the run's");
    assert.equal(stats.find('a'), undefined);
    stats.bounds.close();
  });

  test('StreamCatalog: a forgotten stream takes its cached frame and its /streams.json entry and metrics series with it', async () => {
    const catalog = new StreamCatalog(2000, { ttlMs: 60_000, maxStreams: 10 });
    const registry = createMetricsRegistry({ catalog });
    for (const topic of ['cam1', 'cam2']) {
      const f = frame(topic);
      catalog.add(f, encodeFrame(topic, f.header, f.jpeg), Date.now() * 1000);
    }
    assert.match(await registry.metrics(), /zerocam_frames_total\{topic="cam1"\} 1/);
    catalog.stats.bounds.forget('cam1');
    assert.deepEqual(catalog.describe(Date.now()).map((s) => s.topic), ['cam2']);
    assert.equal(catalog.latest('cam1'), undefined);
    assert.equal(catalog.knows('cam1'), false);
    assert.deepEqual([...catalog.matching('')].map((c) => c.frame.topic), ['cam2']);
    const metrics = await registry.metrics();
    assert.doesNotMatch(metrics, /topic="cam1"/);
    assert.match(metrics, /zerocam_frames_total\{topic="cam2"\} 1/);
    assert.match(metrics, /zerocam_streams 1/);
    assert.match(metrics, /zerocam_forgotten_streams_total 1/);
    catalog.stats.bounds.close();
  });

  test('StreamCatalog: topics asked for by name are bounded too; configured ones stay', () => {
    const catalog = new StreamCatalog(2000, { ttlMs: 60_000, maxStreams: 2 });
    catalog.expect('wanted', true);
    for (const topic of ['a', 'b', 'c']) catalog.expect(topic);
    assert.deepEqual(['a', 'b', 'c', 'wanted'].map((topic) => catalog.knows(topic)), [false, true, true, true]);
  });

  test('compactFrame: a small JPEG is copied out of the buffer it came in, a big one is kept as it is', () => {
    const arena = Buffer.alloc(8192);
    JPEG.copy(arena, 100);
    const small = arena.subarray(100, 100 + JPEG.length);
    const parts = encodeFrame('cam1', header(1), small);
    const kept = compactFrame({ topic: 'cam1', header: header(1), jpeg: small }, parts);
    assert.notEqual(kept.frame.jpeg.buffer, arena.buffer);
    assert.equal(kept.frame.jpeg.buffer.byteLength, JPEG.length);
    assert.deepEqual(kept.frame.jpeg, JPEG);
    assert.equal(kept.parts?.[2], kept.frame.jpeg);
    assert.equal(kept.parts?.[0], parts[0]);
    const big = structuredJpeg(32, 24, 1, 20_000);
    const bigFrame = { topic: 'cam1', header: header(1), jpeg: big };
    assert.equal(compactFrame(bigFrame, undefined).frame, bigFrame);
  });

  test('LinkReporter reports on the streams it tracks (--max-streams), and no more on one that was forgotten', async () => {
    const sent: string[] = [];
    let onSend: (() => void) | undefined;
    const reporter = new LinkReporter(
      (message) => {
        sent.push(decodeLinkReport(message).topic);
        onSend?.();
        return Promise.resolve();
      },
      20,
      { ttlMs: 60_000, maxStreams: 2 },
    );
    const sends = (count: number, from: number): Promise<string[]> =>
      new Promise((resolve) => {
        onSend = () => {
          if (sent.length >= from + count) resolve(sent.slice(from));
        };
      });
    for (const topic of ['a', 'b', 'c']) reporter.onFrame(frame(topic));
    assert.deepEqual(await alive(sends(4, 0)), ['a', 'b', 'a', 'b'], 'every flush reports a and b, never c');
    reporter['bounds'].forget('b');
    assert.deepEqual(await alive(sends(2, sent.length)), ['a', 'a']);
    reporter.close();
  });
});

describe('stats lines with many streams', () => {
  const summary = (fps: number) => ({ fps, lastFrameAgeMs: 10 });
  const many = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`cam${i}`, summary(i % 50)]));

  test('the live line lists each stream while there are few, else the three busiest and how many more', () => {
    assert.equal(streamsPart({ a: summary(30), b: summary(15) }, 2), 'a 30.0, b 15.0 fps');
    assert.equal(streamsPart(many, 1000), 'cam149 49.0, cam199 49.0, cam249 49.0 fps +997 more', 'ties by name');
    assert.ok(streamsPart(many, 1000).length < 100);
  });

  test('a JSON line lists the busiest few of many streams, with their count', () => {
    const record = { streamCount: 1000, streams: many };
    const listed = withBusiestStreams(record, 32);
    assert.equal(Object.keys(listed.streams).length, 32);
    assert.equal(listed.streamCount, 1000);
    assert.ok(Object.values(listed.streams).every((s) => s.fps === 49 || s.fps === 48));
    const few = { streamCount: 2, streams: { a: summary(1), b: summary(2) } };
    assert.equal(withBusiestStreams(few, 32), few);
  });
});

describe('--stream-ttl', () => {
  test('takes a duration with a unit, or seconds', () => {
    const parse = parseDurationIn(100, 86_400_000);
    assert.deepEqual(['300s', '5m', '1.5h', '500ms', '2', ' 10s '].map(parse), [300_000, 300_000, 5_400_000, 500, 2000, 10_000]);
    for (const bad of ['', '5 minutes', '-1s', '10ms', '2d', 'm']) assert.throws(() => parse(bad), InvalidArgumentError, bad);
  });
});

describe('ViewerEngine with bounds', () => {
  test('shows at most --max-streams streams per connection, and drops a stream once it has sent nothing for --stream-ttl', async (t) => {
    const push = new zmq.Push({ linger: 0, sendHighWaterMark: 64 });
    t.after(() => push.close());
    await push.bind(bindEndpoint('inproc'));
    let waiter: { match: (u: StatusUpdate) => boolean; resolve: (u: StatusUpdate) => void } | undefined;
    const sink: FrameSink = {
      frame: () => undefined,
      status: (update) => {
        if (waiter?.match(update)) waiter.resolve(update);
      },
    };
    const next = (match: (u: StatusUpdate) => boolean): Promise<StatusUpdate> => new Promise((resolve) => (waiter = { match, resolve }));
    const engine = new ViewerEngine(sink, { statusIntervalMs: 50, streamLimits: { ttlMs: 500, maxStreams: 2 }, log: createLogger('test', 'silent') });
    t.after(() => engine.close());
    await engine.connect({ endpoint: push.lastEndpoint!, pattern: 'pull', topics: [] });
    const seen = next((u) => u.streams.length === 2);
    for (const topic of ['a', 'b', 'c']) await push.send(encodeFrame(topic, header(1), JPEG));
    assert.deepEqual((await seen).streams.map((s) => s.topic).sort(), ['a', 'b']);
    const gone = await next((u) => u.streams.length === 0);
    assert.deepEqual(gone.connections.length, 1);
  });
});
