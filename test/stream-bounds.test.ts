import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test, type TestContext } from 'node:test';
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
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { bindEndpoint } from './helpers/endpoints';
import { startHub } from './helpers/hub';
import { structuredJpeg } from './helpers/media';
import { skipWithoutPython } from './helpers/python';
import { webUrl } from './helpers/web-url';

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

/** Resident memory of a process, in MB (Linux). */
function rssMb(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) / 1024;
}

function start(t: TestContext, name: 'receiver' | 'python', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

/** test/python/many_topics_pub.py: one small JPEG on each of PREFIX0..PREFIX{count-1}, once a subscription reached it. */
async function publishTopics(t: TestContext, senders: string, prefix: string, count: number): Promise<CliProcess> {
  const publisher = start(t, 'python', ['many_topics_pub.py', senders, prefix, '0', String(count)]);
  await publisher.waitForLine('stdout', (line) => line === `sent ${count}`);
  return publisher;
}

const num = (record: JsonRecord, key: string): number => Number(record[key] ?? 0);

describe('zerocam-hub with many topics (--stream-ttl, --max-streams)', () => {
  test('10,000 topics, then quiet past --stream-ttl: every stream is forgotten, and so is its memory; /streams.json and /metrics stay small', async (t) => {
    if (skipWithoutPython(t)) return;
    const TOPICS = 10_000;
    const hub = await startHub(t, ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', '--http', '0', '--stream-ttl', '3s', '--max-streams', '20000']);
    const url = String((await hub.process.waitForJson('stderr', (r) => r.event === 'serving')).url);
    const receiver = start(t, 'receiver', ['--connect', hub.receivers, '--stream-ttl', '3s', '--max-streams', '20000']);
    await receiver.ready();
    await hub.process.waitForJson('stdout', (r) => num(r, 'receivers') >= 1);
    const baselineMb = rssMb(hub.process.pid!);

    let receiverForgot = 0;
    /** TOPICS new topics, then quiet until the hub and the receiver have forgotten every one; the hub's RSS then. */
    const wave = async (prefix: string, before: number): Promise<number> => {
      const publisher = await publishTopics(t, hub.senders, prefix, TOPICS);
      const arrived = await hub.process.waitForJson('stdout', (r) => num(r, 'frames') >= before + TOPICS);
      publisher.kill();
      assert.deepEqual([num(arrived, 'frames'), num(arrived, 'refused')], [before + TOPICS, 0]);
      const line = hub.process.stdout.at(-1)!;
      assert.ok(line.length < 64 * 1024, `a live stats line of ${line.length} bytes`);
      assert.ok(Object.keys(arrived.streams as object).length <= 32, 'JSON lines list the busiest streams, not all');
      // Both answer with thousands of streams tracked (how many depends on how fast they came: none is older than the TTL).
      const busy = (await (await fetch(webUrl(url, 'streams.json'))).json()) as { streams: unknown[] };
      assert.ok(busy.streams.length > 0 && busy.streams.length <= TOPICS, `${busy.streams.length} streams listed`);
      assert.match(await (await fetch(webUrl(url, 'metrics'))).text(), /^zerocam_streams [1-9]\d*$/m);
      // Quiet: each stream is forgotten once it has sent nothing for the TTL, by the hub and by the receiver.
      const quiet = await hub.process.waitForJson('stdout', (r) => num(r, 'streamCount') === 0 && num(r, 'forgotten') === before + TOPICS);
      assert.equal(num(quiet, 'frames'), before + TOPICS, 'the totals still count the forgotten streams');
      // It got what the hub forwarded once it had subscribed (maybe not all: the hub does not queue for it).
      const forgot = await receiver.waitForJson('stdout', (r) => num(r, 'streamCount') === 0 && num(r, 'forgotten') > receiverForgot);
      receiverForgot = num(forgot, 'forgotten');
      const streams = (await (await fetch(webUrl(url, 'streams.json'))).json()) as { streams: unknown[] };
      assert.deepEqual(streams.streams, []);
      const metrics = await (await fetch(webUrl(url, 'metrics'))).text();
      assert.doesNotMatch(metrics, new RegExp(`topic="${prefix}`), 'no series of a forgotten stream');
      assert.match(metrics, /^zerocam_streams 0$/m);
      assert.match(metrics, new RegExp(`^zerocam_forgotten_streams_total ${before + TOPICS}$`, 'm'));
      return rssMb(hub.process.pid!);
    };

    // Unfixed, each stream kept about 320 kB for good: over 3 GB here. Fixed, a stream costs about 8 kB while
    // it is tracked; once it is forgotten, what stays is memory the allocators keep for reuse (glibc's heap does
    // not shrink, V8's shrinks when it next collects): measured, 90-230 MB after the first wave. A second wave of
    // new topics reuses it: what the first wave left is not held per stream. When V8 last collected moves the
    // second reading by up to 80 MB on a loaded machine (measured: 59-79 MB in 5 of 7 runs beside other tests),
    // so the bound is 150 MB: a leak of 15 kB per stream, a twentieth of the old 320 kB, still fails it.
    const firstMb = await wave('a-', 0);
    assert.ok(firstMb < baselineMb + 400, `RSS ${firstMb.toFixed(0)} MB after 10,000 topics, ${baselineMb.toFixed(0)} MB before`);
    const secondMb = await wave('b-', TOPICS);
    assert.ok(secondMb < firstMb + 150, `RSS ${secondMb.toFixed(0)} MB after 10,000 more topics, ${firstMb.toFixed(0)} MB after the first`);
  });

  test('--max-streams: frames of new streams beyond it are refused (not forwarded) and counted, with one log line', async (t) => {
    if (skipWithoutPython(t)) return;
    const hub = await startHub(t, ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', '--max-streams', '5']);
    // Behind it, a receiver with a bound of its own.
    const receiver = start(t, 'receiver', ['--connect', hub.receivers, '--max-streams', '3']);
    await receiver.ready();
    const publisher = await publishTopics(t, hub.senders, 'cam-', 20);
    const record = await hub.process.waitForJson('stdout', (r) => num(r, 'frames') + num(r, 'refused') >= 20);
    publisher.kill();
    assert.deepEqual([num(record, 'frames'), num(record, 'refused'), num(record, 'streamCount')], [5, 15, 5]);
    assert.deepEqual(Object.keys(record.streams as object).sort(), ['cam-0', 'cam-1', 'cam-2', 'cam-3', 'cam-4']);
    const refusals = hub.process.stderr.filter((line) => line.includes('"reason":"too-many-streams"'));
    assert.equal(refusals.length, 1, refusals.join('\n'));
    assert.match(refusals[0]!, /cam-5.*--max-streams/);
    // The receiver got the five the hub forwarded, kept three and refused the other two.
    const received = await receiver.waitForJson('stdout', (r) => num(r, 'frames') + num(r, 'refused') >= 5);
    assert.deepEqual([num(received, 'frames'), num(received, 'refused'), num(received, 'streamCount')], [3, 2, 3]);
    assert.deepEqual(Object.keys(received.streams as object).sort(), ['cam-0', 'cam-1', 'cam-2']);
  });
});
