import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nowMicros, WallClock, WallClockAnchor, type ClockSources } from '../common/clock';
import { ClockExchanges } from '../common/sockets/clock-exchanges';
import { encodeLinkReport } from '../common/wire/link-report';
import { decodeFrame, type ClockField, type Frame } from '../common/wire/protocol';
import { ClockRelay } from '../hub/clock-relay';
import { ClockEchoes } from '../sender/send/clock-echoes';
import { structuredJpeg } from './helpers/media';
import { seededRandom } from './helpers/seeded-random';

const jpeg = structuredJpeg(8, 8);
const frame = (seq: number, sendUs: number, clock?: ClockField, topic = 'cam', session = 1): Frame => ({
  topic,
  header: { session, seq, captureUs: sendUs - 1000, sendUs, width: 8, height: 8, codec: 'jpeg', quality: 80, ...(clock && { clock }) },
  jpeg,
});

describe('clock exchanges between a receiver and a PUB sender (docs/protocol.md, "Clock offsets")', () => {
  // The sender's clock is 5 s ahead; each way takes 200 µs.
  const AHEAD = 5_000_000;

  test('probe → echo → hold completes one exchange; the offset is within its uncertainty', () => {
    const receiver = new ClockExchanges();
    const sender = new ClockEchoes();
    const t1 = 1e15;
    const probe = receiver.probe(t1);
    sender.onProbe(7, probe, t1 + 200 + AHEAD);
    const sendA = t1 + 10_000 + AHEAD;
    const echo = sender.next(sendA);
    assert.deepEqual(echo, { kind: 'echo', value: probe });
    assert.equal(receiver.onFrame(frame(10, sendA, echo), sendA - AHEAD + 200), undefined, 'no exchange until the hold');
    const hold = sender.next(sendA + 33_000);
    assert.deepEqual(hold, { kind: 'hold', value: 10_000 - 200 });
    const estimate = receiver.onFrame(frame(11, sendA + 33_000, hold), sendA + 33_000 - AHEAD + 200);
    assert.ok(estimate);
    assert.ok(Math.abs(estimate.offsetUs - AHEAD) <= estimate.uncertaintyUs, JSON.stringify(estimate));
    assert.equal(sender.next(sendA + 66_000), undefined, 'one echo per probe');
  });

  test('a lost hold: the widest sound exchange (t2 = t3), which holds the true offset', () => {
    const receiver = new ClockExchanges();
    const probe = receiver.probe(1e15);
    // The probe reached the sender 200 µs after it left; the sender held it 4.8 ms, then the echo took 200 µs.
    receiver.onFrame(frame(10, 1e15 + AHEAD + 5000, { kind: 'echo', value: probe }), 1e15 + 5200);
    const estimate = receiver.onFrame(frame(12, 1e15 + AHEAD + 9000, { kind: 'hold', value: 100 }), 1e15 + 9200);
    // (The uncertainty also grows by 50 ppm of the 4 ms since the exchange.)
    assert.deepEqual(estimate && [estimate.offsetUs, Math.round(estimate.uncertaintyUs)], [AHEAD + 2400, 2600], 'θ from t2 = t3, ± half the whole round trip');
    assert.ok(Math.abs(estimate!.offsetUs - AHEAD) <= estimate!.uncertaintyUs);
  });

  test('a foreign probe, or a hold of another session: no exchange', () => {
    const receiver = new ClockExchanges();
    const probe = receiver.probe(1e15);
    receiver.onFrame(frame(20, 1e15 + AHEAD + 5000, { kind: 'echo', value: (probe % 0xff_fffe) + 1 }), 1e15 + 5200);
    assert.equal(receiver.onFrame(frame(21, 1e15 + AHEAD + 9000, { kind: 'hold', value: 100 }), 1e15 + 9200), undefined);
    receiver.onFrame(frame(30, 1e15 + AHEAD + 5000, { kind: 'echo', value: probe }), 1e15 + 5200);
    assert.equal(receiver.onFrame(frame(31, 1e15 + AHEAD + 9000, { kind: 'hold', value: 100 }, 'cam', 2), 1e15 + 9200), undefined);
  });

  test('REQ: the next frame carries the round trip of the one answered before it', () => {
    const receiver = new ClockExchanges();
    const t1 = 1e15 + AHEAD; // the sender's clock
    const first = frame(0, t1, { kind: 'reply-rtt', value: 0 });
    receiver.onFrame(first, t1 - AHEAD + 200);
    receiver.onReplied(first, t1 - AHEAD + 700);
    const estimate = receiver.onFrame(frame(1, t1 + 33_000, { kind: 'reply-rtt', value: 1_100 }), t1 + 33_000 - AHEAD + 200);
    assert.ok(estimate);
    assert.ok(Math.abs(estimate.offsetUs - AHEAD) <= estimate.uncertaintyUs, JSON.stringify(estimate));
    assert.equal(estimate.uncertaintyUs, 300);
  });

  test('bounded: probes and streams past the limits push out the oldest', () => {
    const receiver = new ClockExchanges();
    for (let i = 0; i < 10_000; i++) receiver.probe(1e15 + i);
    for (let i = 0; i < 2_000; i++) receiver.onFrame(frame(0, 1e15, { kind: 'hold', value: 1 }, `cam${i}`), 1e15);
    assert.ok(true);
  });
});

describe('the hub answers viewers on the camera clock (ClockRelay)', () => {
  const camera = { offsetUs: 2_000_000, uncertaintyUs: 300, samples: 3, steps: 0 };
  const report = (probe: number): Buffer => encodeLinkReport({ receiver: 9, topic: 'cam', session: 1, frames: 1, bytes: 1, dropped: 0, probe });
  const parts = (f: Frame): Buffer[] => [Buffer.from(f.topic), Buffer.alloc(48), f.jpeg];

  test('no camera estimate, no answer; then the echo waits for a frame the camera sent after the probe arrived, and the hold follows', () => {
    const relay = new ClockRelay();
    const arrived = nowMicros(); // the relay forgets probes that waited over 4 s by its own clock
    relay.onReport(report(42), arrived);
    const early = frame(1, arrived + camera.offsetUs + 100);
    assert.equal(relay.stamp(early, parts(early), undefined)[1]!.length, 48);
    assert.deepEqual(relay.stamp(early, parts(early), camera), parts(early), 'sent before the probe surely arrived on the camera clock');
    const a = frame(2, arrived + camera.offsetUs + 5_000);
    const stampedA = relay.stamp(a, parts(a), camera);
    assert.deepEqual(decodeFrame([...stampedA], { maxFrameBytes: 1 << 20 }).header.clock, { kind: 'echo', value: 42 });
    assert.equal(stampedA[2], a.jpeg, 'the JPEG goes on as the buffer received');
    const b = frame(3, arrived + camera.offsetUs + 38_000);
    assert.deepEqual(decodeFrame([...relay.stamp(b, parts(b), camera)], { maxFrameBytes: 1 << 20 }).header.clock, { kind: 'hold', value: 5_000 - 300 });
  });

  test('garbage from viewers is ignored, never thrown', () => {
    const relay = new ClockRelay();
    relay.onReport(Buffer.from('ZCLRgarbage'));
    relay.onReport(Buffer.alloc(0));
  });
});

describe('nowMicros: the wall clock at the monotonic clock\'s resolution (WallClockAnchor)', () => {
  const ORIGIN_MS = 1_700_000_000_000;
  const wall = (monoMs: number, stepMs = 0): number => Math.floor(ORIGIN_MS + monoMs + stepMs);

  test('readings narrow the origin to well under a millisecond', () => {
    const anchor = new WallClockAnchor();
    let us = 0;
    for (let mono = 0.05; mono < 50; mono += 0.37) us = anchor.read(mono, wall(mono), mono);
    assert.ok(Math.abs(us - (ORIGIN_MS + 49.99) * 1000) < 50, `${us - (ORIGIN_MS + 49.99) * 1000} µs off`);
  });

  test('a thread descheduled between its monotonic and wall readings does not move the clock', () => {
    const anchor = new WallClockAnchor();
    for (let mono = 0.05; mono < 20; mono += 0.37) anchor.read(mono, wall(mono), mono);
    // Monotonic read at 30 ms, then 3 ms lost before the wall clock is read, then read again.
    const us = anchor.read(30, wall(33), 33.001);
    assert.ok(Math.abs(us - (ORIGIN_MS + 33.001) * 1000) < 50, `${us - (ORIGIN_MS + 33.001) * 1000} µs off after a 3 ms preemption`);
  });

  test('a stepped wall clock is followed at once', () => {
    const anchor = new WallClockAnchor();
    for (let mono = 0.05; mono < 20; mono += 0.37) anchor.read(mono, wall(mono), mono);
    const us = anchor.read(25, wall(25, 1000), 25);
    assert.ok(Math.abs(us - (ORIGIN_MS + 1025) * 1000) <= 500, `${us - (ORIGIN_MS + 1025) * 1000} µs off after a 1 s step`);
  });

  /**
   * Simulated clocks: the monotonic clock advances `stepMs` per reading (plus whatever a test adds
   * to `monoMs`), the wall clock is whole ms of ORIGIN_MS + monotonic (+ `offsetMs`).
   */
  function simulatedClocks(stepMs = 0.0004): ClockSources & { monoMs: number; offsetMs: number; frozenAt?: number } {
    const clocks = {
      monoMs: 0.123,
      offsetMs: 0,
      frozenAt: undefined as number | undefined,
      monotonicMs: () => (clocks.monoMs += stepMs),
      wallMs: () => clocks.frozenAt ?? Math.floor(ORIGIN_MS + clocks.monoMs + clocks.offsetMs),
    };
    return clocks;
  }
  const trueUs = (clocks: { monoMs: number; offsetMs: number }): number => (ORIGIN_MS + clocks.monoMs + clocks.offsetMs) * 1000;

  test('the first reading waits for a tick of the wall clock: right to a few µs at once, not within ±0.5 ms', () => {
    const clocks = simulatedClocks();
    const clock = new WallClock(clocks);
    const us = clock.nowMicros();
    assert.ok(Math.abs(us - trueUs(clocks)) <= 5, `${us - trueUs(clocks)} µs off`);
    assert.ok(clock.uncertaintyUs <= 2.5, `${clock.uncertaintyUs} µs of doubt`);
    const readings = clocks.monoMs / 0.0008;
    assert.ok(readings < 1.01 / 0.0008, `${readings} readings: no more than a millisecond's worth`);
  });

  test('after a step of the wall clock it calibrates again', () => {
    const clocks = simulatedClocks();
    const clock = new WallClock(clocks);
    clock.nowMicros();
    clocks.monoMs += 500;
    clocks.offsetMs = 1000.3;
    const us = clock.nowMicros();
    assert.ok(Math.abs(us - trueUs(clocks)) <= 5, `${us - trueUs(clocks)} µs off after a step of 1000.3 ms`);
  });

  test('a wall clock that never ticks (frozen) ends the calibration within its limit', () => {
    const clocks = simulatedClocks(0.01);
    clocks.frozenAt = ORIGIN_MS;
    const clock = new WallClock(clocks);
    clock.nowMicros();
    assert.ok(clocks.monoMs < 25, `calibrated for ${clocks.monoMs} ms`);
  });

  test('the system clock: one calibrated reading agrees with the wall clock\'s own bounds, and its doubt is far below one reading\'s 0.5 ms', () => {
    const clock = new WallClock();
    clock.nowMicros();
    const uncertaintyMs = clock.uncertaintyUs / 1000;
    assert.ok(uncertaintyMs < 0.1, `${clock.uncertaintyUs} µs of doubt after calibrating`);
    const beforeMs = performance.now();
    const us = clock.nowMicros();
    const afterMs = performance.now();
    // The origin this reading used, and the true one bounded by this process's own readings (each holds it).
    const [usedLow, usedHigh] = [us / 1000 - afterMs, us / 1000 - beforeMs];
    let [low, high] = [-Infinity, Infinity];
    for (let i = 0; i < 200_000 && high - low > 0.002; i++) {
      const before = performance.now();
      const wallMs = Date.now();
      const after = performance.now();
      low = Math.max(low, wallMs - after);
      high = Math.min(high, wallMs + 1 - before);
    }
    assert.ok(usedHigh >= low - uncertaintyMs - 0.001 && usedLow <= high + uncertaintyMs + 0.001, `origin used [${usedLow}, ${usedHigh}], true [${low}, ${high}], doubt ${uncertaintyMs} ms`);
    assert.ok(nowMicros() > 0);
  });
});

describe('clock exchanges under hostile frames', () => {
  test('random clock fields, send times, seqs and sessions from many topics: nothing throws, estimates stay finite, state stays bounded', () => {
    const random = seededRandom(0x2545f491);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
    const receiver = new ClockExchanges();
    const probes = Array.from({ length: 32 }, (_, i) => receiver.probe(1e15 + i));
    const kinds = ['echo', 'hold', 'reply-rtt'] as const;
    const extremes = [0, 1, 2 ** 32 - 1, 2 ** 53 - 1, Number.MAX_SAFE_INTEGER, 1e15];
    for (let i = 0; i < 20_000; i++) {
      const topic = `cam${Math.floor(random() * 400)}`;
      const sendUs = random() < 0.2 ? pick(extremes) : 1e15 + Math.floor(random() * 1e7);
      const value = random() < 0.5 ? pick(probes) : pick([...extremes.filter((v) => v < 2 ** 32), Math.floor(random() * 2 ** 32)]);
      const clock = random() < 0.8 ? { kind: pick(kinds), value } : undefined;
      const session = random() < 0.9 ? 1 : Math.floor(random() * 2 ** 32);
      const seq = random() < 0.1 ? pick(extremes) : i - Math.floor(random() * 3);
      const estimate = receiver.onFrame(frame(seq, sendUs, clock, topic, session), 1e15 + i * 1000);
      if (estimate) assert.ok(Number.isFinite(estimate.offsetUs) && Number.isFinite(estimate.uncertaintyUs) && estimate.uncertaintyUs >= 0, JSON.stringify(estimate));
      if (random() < 0.01) receiver.onReplied(frame(seq, sendUs, clock, topic, session), 1e15 + i * 1000 + 50);
    }
    assert.ok(receiver['peers'].size <= 256, `${receiver['peers'].size} peers kept`);
  });
});
