import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClockNewsTracker, type ClockNews } from '../common/stats/clock-news';
import { ClockOffsetEstimator, type ClockEstimate } from '../common/stats/clock-offset';
import { DownstreamRate } from '../common/stats/downstream-rate';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { StreamStats } from '../common/stats/stream-stats';
import type { Frame, FrameHeader } from '../common/wire/protocol';
import { seededRandom } from './helpers/seeded-random';

/**
 * One simulated exchange: the peer's clock reads local + offsetUs; `up` and `down` are the one-way
 * delays, `hold` the peer's time between receiving and answering. Returns the four timestamps.
 */
function exchange(t1: number, offsetUs: number, up: number, down: number, hold = 100): [number, number, number, number] {
  const t2 = t1 + up + offsetUs;
  const t3 = t2 + hold;
  const t4 = t1 + up + hold + down;
  return [t1, t2, t3, t4];
}

describe('ClockOffsetEstimator', () => {
  test('no exchange, no estimate; one exchange gives offset ± rtt/2', () => {
    const clock = new ClockOffsetEstimator();
    assert.equal(clock.estimate(1e12), undefined);
    assert.ok(clock.addExchange(...exchange(1e12, 2_000_000, 300, 300)));
    const estimate = clock.estimate(1e12 + 700);
    assert.ok(estimate);
    assert.equal(estimate.offsetUs, 2_000_000);
    assert.ok(Math.abs(estimate.uncertaintyUs - 300) < 1, `${estimate.uncertaintyUs}`);
  });

  test('the minimum-round-trip filter: queueing in one direction does not bias the estimate', () => {
    const clock = new ClockOffsetEstimator();
    const offset = -1_500_000;
    let t = 1e12;
    // Mostly queued upstream (asymmetric: the naive mean would be off by half the queue).
    for (let i = 0; i < 20; i++, t += 100_000) clock.addExchange(...exchange(t, offset, 200 + 20_000 * ((i * 7) % 5), 200));
    clock.addExchange(...exchange(t, offset, 200, 200));
    const estimate = clock.estimate(t + 1000);
    assert.ok(estimate);
    assert.ok(Math.abs(estimate.offsetUs - offset) <= estimate.uncertaintyUs, `${estimate.offsetUs} ± ${estimate.uncertaintyUs}`);
    assert.ok(estimate.uncertaintyUs < 250, `${estimate.uncertaintyUs}`);
  });

  test('the true offset always lies within the uncertainty, whatever the asymmetry', () => {
    const clock = new ClockOffsetEstimator();
    let t = 1e12;
    for (const [up, down] of [[5000, 10], [10, 5000], [3000, 3000]] as const) {
      clock.addExchange(...exchange(t, 42_000, up, down));
      t += 200_000;
      const estimate = clock.estimate(t);
      assert.ok(estimate && Math.abs(estimate.offsetUs - 42_000) <= estimate.uncertaintyUs);
    }
  });

  test('rejects exchanges that cannot be (negative round trip, answered before received)', () => {
    const clock = new ClockOffsetEstimator();
    assert.equal(clock.addExchange(100, 50, 40, 200), false);
    assert.equal(clock.addExchange(100, 50, 60, 90), false);
    assert.equal(clock.addExchange(100, 1e9, 1e9 + 500, 200), false);
    assert.equal(clock.addExchange(Number.NaN, 1, 2, 3), false);
    assert.equal(clock.estimate(200), undefined);
  });

  test('a step of the peer clock is detected and the estimate re-converges after stepSamples exchanges', () => {
    const clock = new ClockOffsetEstimator({ stepSamples: 3 });
    let t = 1e12;
    for (let i = 0; i < 10; i++, t += 500_000) clock.addExchange(...exchange(t, 2_000_000, 150, 150));
    // One odd exchange is not a step.
    clock.addExchange(...exchange(t, 3_000_000, 150, 150));
    t += 500_000;
    assert.equal(clock.estimate(t)?.offsetUs, 2_000_000);
    clock.addExchange(...exchange(t, 2_000_000, 150, 150));
    t += 500_000;
    assert.equal(clock.estimate(t)?.steps, 0);
    // The peer steps by +1 s: three exchanges later (1.5 s at two a second) the estimate follows.
    for (let i = 0; i < 2; i++, t += 500_000) clock.addExchange(...exchange(t, 3_000_000, 150, 150));
    assert.equal(clock.estimate(t)?.offsetUs, 2_000_000);
    clock.addExchange(...exchange(t, 3_000_000, 400, 150));
    const estimate = clock.estimate(t + 1000);
    assert.ok(estimate);
    assert.equal(estimate.steps, 1);
    assert.equal(estimate.offsetUs, 3_000_000);
    assert.equal(estimate.samples, 3);
  });

  test('a slow drift is followed: old exchanges age out of the window', () => {
    const clock = new ClockOffsetEstimator({ windowMs: 8000 });
    const ppm = 100; // far worse than any NTP-less crystal
    let t = 1e12;
    const start = t;
    // A very good exchange first, then ordinary ones: the good one must not pin the estimate forever.
    clock.addExchange(...exchange(t, 0, 10, 10));
    for (let i = 0; i < 120; i++) {
      t += 500_000;
      clock.addExchange(...exchange(t, ((t - start) * ppm) / 1e6, 200, 200));
    }
    const estimate = clock.estimate(t);
    const truth = ((t - start) * ppm) / 1e6;
    assert.ok(estimate);
    assert.ok(Math.abs(estimate.offsetUs - truth) <= estimate.uncertaintyUs + 8000 * ppm / 1000, `${estimate.offsetUs} vs ${truth}`);
    assert.equal(estimate.steps, 0);
    assert.ok(estimate.samples <= 17);
  });

  for (const ppm of [0, 300, -500]) {
    test(`a drift of ${ppm} ppm (no NTP, or NTP slewing a clock): once the exchanges prove it (5 s), every estimate, carried forward to when it is read, holds the true offset`, () => {
      const clock = new ClockOffsetEstimator();
      const random = seededRandom(0x1234567);
      const start = 1e12;
      const truth = (t: number): number => 2_000_000 + ((t - start) * ppm) / 1e6;
      for (let t = start; t < start + 30_000_000; t += 500_000) {
        const up = 50 + 350 * random();
        clock.addExchange(...exchange(t, truth(t), up, 50 + 350 * random()));
        // Read as frames come, between exchanges.
        // Before then a drift beyond driftPpm is not yet told from the exchanges' own spread.
        if (t < start + 5_000_000) continue;
        for (const readAt of [t + 1000, t + 250_000, t + 499_000]) {
          const estimate = clock.estimate(readAt)!;
          const error = estimate.offsetUs - truth(readAt);
          assert.ok(Math.abs(error) <= estimate.uncertaintyUs + 1, `at ${(readAt - start) / 1e6} s: off by ${error.toFixed(1)} µs, ± ${estimate.uncertaintyUs.toFixed(1)}`);
        }
      }
      assert.equal(clock.estimate(start + 30_000_000)!.steps, 0, 'a drift is not a step');
    });
  }

  test("the answer's transit moves the centre, while the interval still holds the plain exchange's", () => {
    // The answer, a frame, takes 15 ms to cross the link; the probe 100 µs.
    const plain = new ClockOffsetEstimator();
    plain.addExchange(...exchange(1e12, 2_000_000, 100, 15_000 + 100));
    const corrected = new ClockOffsetEstimator();
    corrected.addExchange(...exchange(1e12, 2_000_000, 100, 15_000 + 100), 15_000);
    const [p, c] = [plain.estimate(1e12 + 20_000)!, corrected.estimate(1e12 + 20_000)!];
    assert.ok(Math.abs(p.offsetUs - 2_000_000) > 7000, 'off by half the transit uncorrected');
    assert.ok(Math.abs(c.offsetUs - 2_000_000) < 100, `${c.offsetUs}`);
    assert.ok(c.offsetUs - c.uncertaintyUs <= p.offsetUs - p.uncertaintyUs && c.offsetUs + c.uncertaintyUs >= p.offsetUs + p.uncertaintyUs);
  });

  test('a transit the model overstates (a shaper let the frame through in a burst) moves the centre no further than the round trip allows', () => {
    const clock = new ClockOffsetEstimator();
    clock.addExchange(...exchange(1e12, 2_000_000, 100, 12_000), 15_000);
    const estimate = clock.estimate(1e12 + 20_000)!;
    assert.ok(Math.abs(estimate.offsetUs - 2_000_000) <= estimate.uncertaintyUs, `${estimate.offsetUs} ± ${estimate.uncertaintyUs}`);
  });

  test('the filter prefers the exchange the transit explains best, not the narrowest plain one', () => {
    const clock = new ClockOffsetEstimator();
    let t = 1e12;
    // Before the rate is known: plain exchanges, each off by half its 15 ms transit.
    for (let i = 0; i < 3; i++, t += 500_000) clock.addExchange(...exchange(t, 2_000_000, 100, 15_000));
    // A queued one, then a clean one, both with the transit known.
    clock.addExchange(...exchange(t, 2_000_000, 100, 15_000 + 20_000), 15_000);
    t += 500_000;
    clock.addExchange(...exchange(t, 2_000_000, 100, 15_200), 15_000);
    const estimate = clock.estimate(t + 20_000)!;
    assert.ok(Math.abs(estimate.offsetUs - 2_000_000) < 300, `${estimate.offsetUs}`);
  });

  test('memory is bounded however many exchanges arrive', () => {
    const clock = new ClockOffsetEstimator({ maxSamples: 64 });
    let t = 1e12;
    for (let i = 0; i < 10_000; i++, t += 10) clock.addExchange(...exchange(t, 5, 1, 1, 0));
    assert.ok((clock.estimate(t)?.samples ?? 0) <= 64);
  });
});

describe('DownstreamRate', () => {
  const AHEAD = 2_000_000; // the sender's clock

  test('frames that queue behind each other give the bottleneck rate; an idle link gives none', () => {
    const rate = new DownstreamRate();
    // 20 kB frames every 33 ms over a link that takes 16 ms for one: never queued.
    let t = 1e15;
    for (let seq = 0; seq < 100; seq++, t += 33_000) rate.onFrame(1, seq, t + AHEAD, t + 16_000 + 300 * (seq % 3), 20_000);
    assert.equal(rate.bytesPerUs(t), undefined);
  });

  test("a saturated link: consecutive arrivals are each a frame's time at the rate, whatever the send gaps", () => {
    const rate = new DownstreamRate();
    const bytesPerUs = 1.25; // 10 Mbit/s
    let sent = 1e15;
    let arrived = sent + 1_000;
    // Offered faster than the link carries: the queue grows, and each frame waits for the one before.
    for (let seq = 0; seq < 60; seq += 3, sent += 60_000) {
      const bytes = 100_000 + 1_000 * (seq % 7);
      arrived = Math.max(arrived, sent + 1_000) + bytes / bytesPerUs;
      rate.onFrame(1, seq, sent + AHEAD, arrived, bytes);
    }
    const measured = rate.bytesPerUs(arrived);
    assert.ok(measured !== undefined && Math.abs(measured - bytesPerUs) < 0.01, `${measured}`);
  });

  test('repeats and a new session bring no pairs', () => {
    const rate = new DownstreamRate();
    for (let i = 0; i < 10; i++) {
      rate.onFrame(1, 5, 1e15 + AHEAD, 1e15 + 50_000 + i * 10, 100_000);
      rate.onFrame(2 + i, 0, 1e15 + AHEAD, 1e15 + 60_000 + i * 10, 100_000);
    }
    assert.equal(rate.bytesPerUs(1e15 + 100_000), undefined);
  });
});

describe('StreamStats with clock offsets', () => {
  const header = (seq: number, captureUs: number): FrameHeader => ({ session: 1, seq, captureUs, sendUs: captureUs, width: 8, height: 8, codec: 'jpeg', quality: 80 });

  test('corrected latency = receive − capture + offset; frames before the first estimate never mix into it', () => {
    const stats = new StreamStats(2000);
    // The sender's clock is 2 s ahead: raw latency 2 s negative.
    stats.onFrame(header(0, 12_002_000_000), 10, 12_000_003_000);
    let summary = stats.summary(12_000_010);
    assert.deepEqual([summary.latencyCorrected, summary.clockOffsetMs, summary.latencyMs.p50], [false, null, 0.001]);
    const clock = { offsetUs: 2_000_000, uncertaintyUs: 150, samples: 1, steps: 0 };
    stats.onFrame(header(1, 12_002_100_000), 10, 12_000_104_000, clock);
    summary = stats.summary(12_000_110);
    assert.deepEqual([summary.latencyCorrected, summary.clockOffsetMs, summary.clockUncertaintyMs], [true, 2000, 0.15]);
    assert.ok(Math.abs(summary.latencyMs.p50 - 4) < 0.01, `${summary.latencyMs.p50}`); // the histogram keeps 3 digits
  });

  test("a receiver's figures are corrected only if every stream behind them is", () => {
    const stats = new ReceiverStats(2000);
    const frame = (topic: string, seq: number): Frame => ({ topic, header: header(seq, 1_000_000), jpeg: Buffer.alloc(4) });
    stats.onFrame(frame('a', 0), 1_001_000, { offsetUs: 0, uncertaintyUs: 50, samples: 1, steps: 0 });
    assert.equal(stats.live(2000).latencyCorrected, true);
    stats.onFrame(frame('a', 1), 1_001_000, { offsetUs: 0, uncertaintyUs: 50, samples: 1, steps: 0 });
    stats.onFrame(frame('b', 0), 1_001_000);
    const live = stats.live(2000);
    assert.equal(live.latencyCorrected, false);
    assert.deepEqual([live.streams.a?.latencyCorrected, live.streams.b?.latencyCorrected], [true, false]);
  });
});

describe('clock news: what a person hears once, not in every stats line', () => {
  const estimate = (offsetUs: number, steps = 0, uncertaintyUs = 200): ClockEstimate => ({ offsetUs, uncertaintyUs, samples: 1, steps });

  test('a sender clock surely more than 100 ms off is news once per session; a near one, or one only possibly far, never', () => {
    const news = new ClockNewsTracker();
    assert.equal(news.onEstimate(1, undefined), undefined);
    assert.equal(news.onEstimate(1, estimate(30_000)), undefined, '30 ms: NTP on a LAN');
    assert.equal(news.onEstimate(1, estimate(150_000, 0, 60_000)), undefined, '150 ± 60 ms: not surely past 100');
    assert.deepEqual(news.onEstimate(1, estimate(-2_000_123)), { kind: 'far', offsetMs: -2000.1, uncertaintyMs: 0.2 });
    assert.equal(news.onEstimate(1, estimate(-2_000_100)), undefined, 'said once');
    assert.deepEqual(news.onEstimate(2, estimate(-2_000_100)), { kind: 'far', offsetMs: -2000.1, uncertaintyMs: 0.2 }, 'a restarted sender is said again');
  });

  test('each step is news, with the offset before it', () => {
    const news = new ClockNewsTracker();
    news.onEstimate(1, estimate(2_000));
    assert.deepEqual(news.onEstimate(1, estimate(1_002_000, 1)), { kind: 'stepped', offsetMs: 1002, uncertaintyMs: 0.2, previousOffsetMs: 2, far: true });
    assert.equal(news.onEstimate(1, estimate(1_002_000, 1)), undefined, 'the step said how far off it is');
    assert.equal(news.onEstimate(1, estimate(1_001_900, 2))?.kind, 'stepped');
  });

  test('ReceiverStats passes news on with the topic, and says nothing for repeats', () => {
    const stats = new ReceiverStats(2000);
    const heard: Array<[string, ClockNews]> = [];
    stats.onClockNews((topic, news) => heard.push([topic, news]));
    const frame = (seq: number): Frame => ({
      topic: 'cam',
      header: { session: 1, seq, captureUs: 1_000_000, sendUs: 1_000_000, width: 8, height: 8, codec: 'jpeg', quality: 80 },
      jpeg: Buffer.alloc(4),
    });
    stats.onFrame(frame(0), 1_001_000, estimate(5_000_000));
    stats.onFrame(frame(0), 1_001_000, estimate(5_000_000));
    stats.onFrame(frame(1), 1_001_000, estimate(5_000_000));
    assert.deepEqual(heard, [['cam', { kind: 'far', offsetMs: 5000, uncertaintyMs: 0.2 }]]);
  });
});
