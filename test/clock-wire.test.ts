import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeLinkReport, encodeLinkReport, type LinkReport } from '../common/wire/link-report';
import { decodeFrame, encodeFrame, encodeHeader, FLAGS, type ClockField, type FrameHeader } from '../common/wire/protocol';
import { structuredJpeg } from './helpers/media';

const header: FrameHeader = { session: 1_795_000_000_123_456, seq: 41, captureUs: 1_795_000_001_000_001, sendUs: 1_795_000_001_003_002, width: 64, height: 48, codec: 'jpeg', quality: 80 };
const jpeg = structuredJpeg(64, 48);
const limits = { maxFrameBytes: 1 << 20 };

describe('clock fields on the wire (docs/protocol.md, "Clock offsets")', () => {
  const fields: ClockField[] = [
    { kind: 'echo', value: 1 },
    { kind: 'echo', value: 0xff_ffff },
    { kind: 'hold', value: 0 },
    { kind: 'hold', value: 0xffff_ffff },
    { kind: 'reply-rtt', value: 1234 },
  ];
  for (const clock of fields) {
    test(`a frame's ${clock.kind} ${clock.value} round-trips, with the replay bit alongside`, () => {
      const sent: FrameHeader = { ...header, replay: true, clock };
      assert.deepEqual(decodeFrame(encodeFrame('cam1', sent, jpeg), limits).header, sent);
    });
  }

  test('the bytes are flags bits 1-3 and the reserved u32; the rest of the header is unchanged', () => {
    const plain = encodeHeader(header);
    const bits = { echo: FLAGS.clockEcho, hold: FLAGS.clockHold, 'reply-rtt': FLAGS.clockReplyRtt } as const;
    for (const kind of ['echo', 'hold', 'reply-rtt'] as const) {
      const h = encodeHeader({ ...header, clock: { kind, value: 0xabcdef } });
      assert.equal(h[7], bits[kind]);
      assert.equal(h.readUInt32LE(12), 0xabcdef);
      assert.deepEqual(Buffer.concat([h.subarray(0, 7), h.subarray(8, 12), h.subarray(16)]), Buffer.concat([plain.subarray(0, 7), plain.subarray(8, 12), plain.subarray(16)]));
    }
    assert.deepEqual(encodeHeader({ ...header, clock: { kind: 'echo', value: 0 } }), plain, 'an echo of probe 0 is not written');
  });

  test('nonsense in the clock bits is ignored, never rejected: two bits at once, an echo out of range', () => {
    for (const [flags, reserved] of [[FLAGS.clockEcho | FLAGS.clockHold, 5], [FLAGS.clockEcho, 0], [FLAGS.clockEcho, 0x0100_0000], [0xf0, 7]] as const) {
      const parts = encodeFrame('cam1', header, jpeg);
      parts[1].writeUInt8(flags, 7);
      parts[1].writeUInt32LE(reserved, 12);
      assert.equal(decodeFrame(parts, limits).header.clock, undefined);
    }
  });

  test('a link report carries its probe in the three bytes that were reserved; 0 means none', () => {
    const report: LinkReport = { receiver: 7, topic: 'cam1', session: 9, frames: 1, bytes: 2, dropped: 3, probe: 0xfe_dcba };
    const message = encodeLinkReport(report);
    assert.equal(message.readUIntLE(5, 3), 0xfe_dcba);
    assert.equal(message.readUInt8(4), 1, 'still version 1: version-1 readers ignore the bytes');
    assert.deepEqual(decodeLinkReport(message), report);
    const without: LinkReport = { ...report };
    delete without.probe;
    assert.equal(encodeLinkReport(without).readUIntLE(5, 3), 0);
    assert.deepEqual(decodeLinkReport(encodeLinkReport(without)), without);
    assert.throws(() => encodeLinkReport({ ...report, probe: 0x100_0000 }));
  });
});
