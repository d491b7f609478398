import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHistogram } from 'node:perf_hooks';
import type { FrameHeader } from '../common/wire/protocol';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { RateWindow } from '../common/stats/rate-window';
import { ReceiverStats } from '../common/stats/receiver-stats';
import { SequenceTracker } from '../common/stats/sequence-tracker';
import { StreamStats } from '../common/stats/stream-stats';

const frame = (session: number, seq: number, captureUs = 1_000_000): FrameHeader => ({
  session,
  seq,
  captureUs,
  sendUs: captureUs,
  width: 64,
  height: 48,
  codec: 'jpeg',
  quality: 80,
});

describe('stats', () => {
  test('a gap in the sequence counts as dropped frames', () => {
    const stats = new StreamStats(2000);
    for (const seq of [0, 1, 2, 5, 6, 10]) stats.onFrame(frame(7, seq), 10, 2_000_000);
    assert.equal(stats.frames, 6);
    assert.equal(stats.dropped, 2 + 3);
  });

  test('a restarted sender (new session) starts a new sequence, not a gap', () => {
    const stats = new StreamStats(2000);
    for (const seq of [100, 101]) stats.onFrame(frame(7, seq), 10, 2_000_000);
    for (const seq of [0, 1, 2]) stats.onFrame(frame(8, seq), 10, 2_000_000);
    assert.equal(stats.dropped, 0);
    assert.equal(stats.sessions, 2);
  });

  test('a duplicate or late frame is not counted as a gap', () => {
    const stats = new StreamStats(2000);
    for (const seq of [0, 1, 3, 2, 3, 4]) stats.onFrame(frame(7, seq), 10, 2_000_000);
    assert.equal(stats.dropped, 1);
  });

  test('a repeat (same session, seq not above the last accepted) is discarded and counted as a duplicate, not a frame or a gap', () => {
    const stats = new StreamStats(2000);
    const accepted = [0, 1, 1, 3, 2, 3, 4].map((seq) => stats.onFrame(frame(7, seq), 10, 2_000_000));
    assert.deepEqual(accepted, [true, true, false, true, false, false, true]);
    assert.equal(stats.frames, 4);
    assert.equal(stats.duplicates, 3);
    assert.equal(stats.dropped, 1);
    assert.equal(stats.bytes, 40);
  });

  test('a new session resets the repeat rule: its seq 0 is a frame, not a duplicate', () => {
    const stats = new StreamStats(2000);
    for (const seq of [5, 6]) stats.onFrame(frame(7, seq), 10, 2_000_000);
    assert.equal(stats.onFrame(frame(8, 0), 10, 2_000_000), true);
    assert.equal(stats.onFrame(frame(8, 0), 10, 2_000_000), false);
    assert.equal(stats.frames, 3);
    assert.equal(stats.duplicates, 1);
  });

  test('ReceiverStats.onFrame returns nothing for a repeat, so callers neither save nor show it', () => {
    const stats = new ReceiverStats(2000);
    const first = { topic: 'a', header: frame(1, 4), jpeg: Buffer.alloc(10) };
    assert.ok(stats.onFrame(first, 2_000_000));
    assert.equal(stats.onFrame(first, 2_000_001), undefined);
    const summary = stats.final(2_000);
    assert.equal(summary.frames, 1);
    assert.equal(summary.duplicates, 1);
  });

  test('latency is receive time minus capture time, reported as p50/p95/p99 ms', () => {
    const histogram = new LatencyHistogram();
    for (let ms = 1; ms <= 100; ms++) histogram.recordMicros(ms * 1000);
    const { p50, p95, p99 } = histogram.percentilesMs();
    // HDR histogram with 3 significant figures: within 0.1%.
    assert.ok(Math.abs(p50 - 50) <= 0.05, `p50 ${p50}`);
    assert.ok(Math.abs(p95 - 95) <= 0.1, `p95 ${p95}`);
    assert.ok(Math.abs(p99 - 99) <= 0.1, `p99 ${p99}`);
  });

  test('LatencyHistogram answers exactly as Node\'s HDR histogram (3 significant figures), merged or not', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const parts = [new LatencyHistogram(), new LatencyHistogram()];
    const reference = createHistogram({ lowest: 1, highest: 600_000_000, figures: 3 });
    for (let i = 0; i < 5000; i++) {
      // 1 µs to 10 minutes, spread over every power of two.
      const micros = Math.max(1, Math.round(600_000_000 ** random()));
      parts[i % 2]!.recordMicros(micros);
      reference.record(micros);
    }
    const merged = LatencyHistogram.merged(parts);
    const ms = (p: number): number => Math.round(reference.percentile(p)) / 1000;
    assert.deepEqual(merged.percentilesMs(), { p50: ms(50), p95: ms(95), p99: ms(99) });
    assert.equal(merged.count, 5000);
    merged.reset();
    assert.deepEqual([merged.count, merged.percentilesMs()], [0, { p50: 0, p95: 0, p99: 0 }]);
  });

  test('a negative latency (skewed clocks) is recorded as ~0 and counted', () => {
    const histogram = new LatencyHistogram();
    histogram.recordMicros(-500);
    assert.equal(histogram.negative, 1);
    assert.equal(histogram.count, 1);
  });

  test('RateWindow reports events per second over its trailing window', () => {
    const window = new RateWindow(2000);
    for (let i = 0; i < 90; i++) window.record(10_000 + i * (1000 / 30), 1000);
    const { perSecond, bytesPerSecond } = window.rates(10_000 + 3000);
    assert.ok(Math.abs(perSecond - 30) < 1.6, `fps ${perSecond}`);
    assert.ok(Math.abs(bytesPerSecond - 30_000) < 1600, `bytes/s ${bytesPerSecond}`);
    assert.equal(window.rates(10_000 + 10_000).perSecond, 0, 'a stream that stopped falls to 0');
  });

  test('RateWindow does not overstate the rate while its window is still filling', () => {
    const window = new RateWindow(2000);
    for (let i = 0; i < 5; i++) window.record(10_000 + i * (1000 / 30));
    const { perSecond } = window.rates(10_000 + 4 * (1000 / 30));
    assert.ok(Math.abs(perSecond - 30) < 1, `fps ${perSecond}`);
  });

  test('ReceiverStats sums streams and counts rejects by reason', () => {
    const stats = new ReceiverStats(2000);
    stats.onFrame({ topic: 'a', header: frame(1, 0, 1_000_000), jpeg: Buffer.alloc(100) }, 1_002_000);
    stats.onFrame({ topic: 'b', header: frame(2, 0, 1_000_000), jpeg: Buffer.alloc(50) }, 1_004_000);
    stats.onFrame({ topic: 'b', header: frame(2, 3, 1_000_000), jpeg: Buffer.alloc(50) }, 1_004_000);
    stats.onRejected('magic');
    stats.onRejected('magic');
    stats.onRejected('oversized');
    const summary = stats.final(2000);
    assert.equal(summary.frames, 3);
    assert.equal(summary.bytes, 200);
    assert.equal(summary.dropped, 2);
    assert.equal(summary.rejected, 3);
    assert.deepEqual(summary.rejectedByReason, { magic: 2, oversized: 1 });
    assert.deepEqual(Object.keys(summary.streams), ['a', 'b']);
    assert.ok(Math.abs(summary.latencyMs.p99 - 4) <= 0.005, `p99 ${summary.latencyMs.p99}`);
  });
});

describe('SequenceTracker', () => {
  test('a new session starts afresh; within one, repeats are refused and jumps are gaps', () => {
    const sequence = new SequenceTracker();
    assert.deepEqual(sequence.accept(7, 5), { newSession: true, gap: 0 }, 'the first frame is never a gap');
    assert.deepEqual(sequence.accept(7, 6), { newSession: false, gap: 0 });
    assert.equal(sequence.accept(7, 6), undefined, 'a repeat');
    assert.equal(sequence.accept(7, 2), undefined, 'an older frame');
    assert.deepEqual(sequence.accept(7, 10), { newSession: false, gap: 3 });
    assert.deepEqual(sequence.accept(9, 0), { newSession: true, gap: 0 }, 'a restarted sender numbers from 0 again');
    assert.equal(sequence.session, 9);
  });
});
