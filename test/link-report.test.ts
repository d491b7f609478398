import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULTS } from '../common/defaults';
import { LinkReportError } from '../common/errors';
import { LinkMonitor } from '../common/sockets/link-monitor';
import { LinkReporter } from '../common/sockets/link-reporter';
import type { Frame } from '../common/wire/protocol';
import { decodeLinkReport, encodeLinkReport, isLinkReport, type LinkReport } from '../common/wire/link-report';
import { LinkAdapter } from '../sender/send/link-adapter';
import type { JpegSettings } from '../sender/encode/frame-encoder';

const REPORT: LinkReport = { receiver: 0xfedcba98, topic: 'cam-1.a_b', session: 1_795_000_000_000_000, frames: 1234, bytes: 98_765_432, dropped: 77 };

describe('link reports (docs/protocol.md)', () => {
  test('encode and decode round-trip every field', () => {
    assert.deepEqual(decodeLinkReport(encodeLinkReport(REPORT)), REPORT);
  });

  test('a report is never mistaken for a subscription: its first byte is neither 0 nor 1', () => {
    const message = encodeLinkReport(REPORT);
    assert.ok(message[0] !== 0 && message[0] !== 1);
    assert.ok(isLinkReport(message));
    assert.ok(!isLinkReport(Buffer.from('\x01ZCLR')));
  });

  test('the layout is the documented one: 44 fixed bytes, then the topic', () => {
    const message = encodeLinkReport(REPORT);
    assert.equal(message.length, 44 + REPORT.topic.length);
    assert.equal(message.toString('ascii', 0, 4), 'ZCLR');
    assert.equal(message.readUInt8(4), 1);
    assert.equal(message.readUInt32LE(8), REPORT.receiver);
    assert.equal(Number(message.readBigUInt64LE(12)), REPORT.session);
    assert.equal(Number(message.readBigUInt64LE(20)), REPORT.frames);
    assert.equal(Number(message.readBigUInt64LE(28)), REPORT.bytes);
    assert.equal(Number(message.readBigUInt64LE(36)), REPORT.dropped);
    assert.equal(message.toString('ascii', 44), REPORT.topic);
  });

  const malformed: Array<[string, (m: Buffer) => Buffer]> = [
    ['no topic', (m) => m.subarray(0, 44)],
    ['a short message', (m) => m.subarray(0, 20)],
    ['another version', (m) => (m.writeUInt8(2, 4), m)],
    ['a count of 2^53', (m) => (m.writeBigUInt64LE(2n ** 53n, 20), m)],
    ['a topic outside the alphabet', (m) => (m.write(' ', 44), m)],
    ['another magic', (m) => (m.write('ZCAM', 0), m)],
  ];
  for (const [what, mutate] of malformed) {
    test(`${what} is rejected with a LinkReportError`, () => {
      assert.throws(() => decodeLinkReport(mutate(Buffer.from(encodeLinkReport(REPORT)))), LinkReportError);
    });
  }
});

describe('LinkMonitor', () => {
  const report = (receiver: number, frames: number, dropped: number, topic = 'cam', session = 7): Buffer =>
    encodeLinkReport({ receiver, topic, session, frames, bytes: frames * 1000, dropped });

  test('a receiver that gets a third of the frames is link-limited; one that gets them all is not', () => {
    const monitor = new LinkMonitor('cam', 7, 2000);
    monitor.onMessage(report(1, 0, 0), 0);
    monitor.onMessage(report(2, 0, 0), 0);
    monitor.onMessage(report(1, 10, 20), 1000);
    monitor.onMessage(report(2, 30, 0), 1000);
    const summary = monitor.summary(1000);
    assert.equal(summary.limited, true);
    assert.deepEqual(
      summary.receivers.map((r) => [r.receiver, r.fps, r.offeredFps, r.bytesPerSecond, r.limited]),
      [
        [1, 10, 30, 10_000, true],
        [2, 30, 30, 30_000, false],
      ],
    );
    assert.deepEqual([summary.deliveredFps, summary.offeredFps, summary.linkBytesPerSecond, summary.skipped], [10, 30, 10_000, 20]);
  });

  test("reports for another topic or session are ignored; malformed ones are counted", () => {
    const monitor = new LinkMonitor('cam', 7, 2000);
    monitor.onMessage(report(1, 0, 0, 'cam2'), 0);
    monitor.onMessage(report(1, 10, 0, 'cam2'), 1000);
    monitor.onMessage(report(1, 0, 0, 'cam', 8), 0);
    monitor.onMessage(report(1, 10, 0, 'cam', 8), 1000);
    monitor.onMessage(Buffer.from('ZCLR'), 1000);
    const summary = monitor.summary(1000);
    assert.deepEqual(summary.receivers, []);
    assert.equal(summary.limited, false);
    assert.equal(summary.badReports, 1);
  });

  test('a receiver that stops reporting is forgotten', () => {
    const monitor = new LinkMonitor('cam', 7, 2000);
    monitor.onMessage(report(1, 0, 0), 0);
    monitor.onMessage(report(1, 10, 20), 1000);
    assert.equal(monitor.summary(1000).receivers.length, 1);
    assert.equal(monitor.summary(1000 + DEFAULTS.linkReportExpiryMs + 1).receivers.length, 0);
  });
});

describe('LinkAdapter (--adapt)', () => {
  const limited = { receivers: [{ receiver: 1, fps: 10, offeredFps: 30, bytesPerSecond: 1, skipped: 1, limited: true }], limited: true, deliveredFps: 10, offeredFps: 30, linkBytesPerSecond: 1, skipped: 1, badReports: 0 };
  const clear = { ...limited, receivers: [{ ...limited.receivers[0]!, fps: 30, limited: false }], limited: false, deliveredFps: 30 };
  const none = { ...clear, receivers: [] };

  test('steps quality down to the floor, then the scale, and back up: scale first, then quality', () => {
    const settings: JpegSettings = { quality: 80, optimiseCoding: false };
    const adapter = new LinkAdapter(settings, { maxQuality: 80, minQuality: 60 }, 1000);
    const seen: Array<[number, number]> = [];
    let now = 0;
    for (let i = 0; i < 4; i++) {
      adapter.decide(limited, (now += 1000));
      seen.push([adapter.quality, adapter.scale]);
    }
    for (let i = 0; i < 4; i++) {
      adapter.decide(clear, (now += 1000));
      seen.push([adapter.quality, adapter.scale]);
    }
    assert.deepEqual(seen, [
      [70, 1],
      [60, 1],
      [60, DEFAULTS.adaptScaleStep],
      [60, DEFAULTS.adaptScaleStep ** 2],
      [60, DEFAULTS.adaptScaleStep],
      [60, 1],
      [70, 1],
      [80, 1],
    ]);
    assert.equal(settings.quality, 80);
  });

  test('a step down waits until the window shows frames of the last step', () => {
    const adapter = new LinkAdapter({ quality: 80, optimiseCoding: false }, { maxQuality: 80, minQuality: 30 }, 1000);
    assert.equal(adapter.decide(limited, 1000), true);
    assert.equal(adapter.decide(limited, 1500), false);
    assert.equal(adapter.decide(limited, 2000), true);
    assert.equal(adapter.quality, 60);
  });

  test('with no reporting receiver it changes nothing', () => {
    const adapter = new LinkAdapter({ quality: 50, optimiseCoding: false }, { maxQuality: 80, minQuality: 30 }, 1000);
    assert.equal(adapter.decide(none, 1000), false);
    assert.equal(adapter.quality, 50);
  });
});

describe('LinkReporter', () => {
  const frame = (topic: string): Frame => ({
    topic,
    header: { session: 7, seq: 0, captureUs: 1, sendUs: 2, width: 8, height: 8, codec: 'jpeg', quality: 80 },
    jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
  });

  test('probes a new stream eagerly while its clock is not known, and not one whose clock is', async () => {
    const reports: LinkReport[] = [];
    let enough: () => void = () => undefined;
    const fourReports = new Promise<void>((resolve) => (enough = resolve));
    // The regular interval is an hour: every report seen here is an eager one.
    const reporter = new LinkReporter(
      (message) => {
        reports.push(decodeLinkReport(message));
        if (reports.length === 4) enough();
        return Promise.resolve();
      },
      3_600_000,
      undefined,
      () => reports.length + 1,
      (topic) => topic === 'known',
    );
    // The reporter's timers do not hold the process open (unref); this test's wait must.
    const keepAlive = setInterval(() => undefined, 60_000);
    try {
      reporter.onFrame(frame('unknown'));
      reporter.onFrame(frame('known'));
      await fourReports;
      assert.deepEqual(
        reports.map((r) => [r.topic, r.probe]),
        [1, 2, 3, 4].map((probe) => ['unknown', probe]),
      );
    } finally {
      clearInterval(keepAlive);
      reporter.close();
    }
  });
});
