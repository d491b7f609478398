import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolError, REJECT_REASONS, type RejectReason } from '../common/errors';
import { decodeFrame, encodeFrame, encodeHeader, encodeTopic, HEADER_BYTES, type FrameHeader } from '../common/wire/protocol';
import { structuredJpeg } from './helpers/media';

const header: FrameHeader = {
  session: 1_795_000_000_123_456,
  seq: 4_294_967_301, // past 32 bits, to prove 64-bit fields
  captureUs: 1_795_000_001_000_001,
  sendUs: 1_795_000_001_003_002,
  width: 1920,
  height: 1080,
  codec: 'jpeg',
  quality: 80,
};
const jpeg = structuredJpeg(1920, 1080);
const limits = { maxFrameBytes: 1024 };

describe('protocol v1', () => {
  test('decodeFrame(encodeFrame(x)) returns x, every field', () => {
    const parts = encodeFrame('cam-1.lab_2', header, jpeg);
    assert.deepEqual(decodeFrame(parts, limits), { topic: 'cam-1.lab_2', header, jpeg });
  });

  test('decodeFrame hands back the received JPEG buffer itself, not a copy', () => {
    const parts = encodeFrame('cam1', header, jpeg);
    assert.equal(decodeFrame(parts, limits).jpeg, parts[2]);
  });

  test('the header has the byte layout docs/protocol.md gives Python (<4sBBBBHHIQQQQ)', () => {
    const h = encodeHeader(header);
    assert.equal(h.length, HEADER_BYTES);
    assert.equal(h.toString('ascii', 0, 4), 'ZCAM');
    assert.deepEqual([h[4], h[5], h[6], h[7]], [1, 1, 80, 0]);
    assert.equal(h.readUInt16LE(8), 1920);
    assert.equal(h.readUInt16LE(10), 1080);
    assert.equal(h.readUInt32LE(12), 0);
    assert.equal(h.readBigUInt64LE(16), BigInt(header.session));
    assert.equal(h.readBigUInt64LE(24), BigInt(header.seq));
    assert.equal(h.readBigUInt64LE(32), BigInt(header.captureUs));
    assert.equal(h.readBigUInt64LE(40), BigInt(header.sendUs));
  });

  test('encodeTopic() refuses names outside the topic alphabet', () => {
    for (const bad of ['', '-lead', 'has space', 'slash/y', 'x'.repeat(65), 'ünï']) {
      assert.throws(() => encodeTopic(bad), RangeError, bad);
    }
  });

  const good = (): Buffer[] => encodeFrame('cam1', header, jpeg);
  const withHeader = (mutate: (h: Buffer) => void): Buffer[] => {
    const parts = good();
    mutate(parts[1]!);
    return parts;
  };
  const rejections: Array<[RejectReason, string, () => Buffer[]]> = [
    ['part-count', 'two parts', () => good().slice(0, 2)],
    ['part-count', 'four parts', () => [...good(), Buffer.alloc(1)]],
    ['topic', 'a topic with a slash', () => [Buffer.from('../etc'), ...good().slice(1)]],
    ['header-size', 'a short header', () => [good()[0]!, good()[1]!.subarray(0, 40), jpeg]],
    ['magic', 'a wrong magic', () => withHeader((h) => h.write('ZCAN', 0, 'ascii'))],
    ['version', 'version 2', () => withHeader((h) => h.writeUInt8(2, 4))],
    ['codec', 'codec 9', () => withHeader((h) => h.writeUInt8(9, 5))],
    ['header-field', 'quality 101', () => withHeader((h) => h.writeUInt8(101, 6))],
    ['header-field', 'width 0', () => withHeader((h) => h.writeUInt16LE(0, 8))],
    ['header-field', 'a capture time beyond 2^53', () => withHeader((h) => h.writeBigUInt64LE(1n << 53n, 32))],
    ['header-field', 'a session beyond 2^53', () => withHeader((h) => h.writeBigUInt64LE(1n << 53n, 16))],
    ['header-field', 'seq beyond 2^53', () => withHeader((h) => h.writeBigUInt64LE(1n << 60n, 24))],
    ['oversized', 'a JPEG over the limit', () => encodeFrame('cam1', header, Buffer.concat([jpeg.subarray(0, 4), Buffer.alloc(2000), jpeg.subarray(-2)]))],
    ['jpeg-markers', 'no start marker', () => encodeFrame('cam1', header, Buffer.from([0, 0, 0, 0, 0xff, 0xd9]))],
    ['jpeg-markers', 'a truncated JPEG', () => encodeFrame('cam1', header, jpeg.subarray(0, 6))],
    ['jpeg-markers', 'an empty payload', () => encodeFrame('cam1', header, Buffer.alloc(0))],
    ['jpeg-markers', 'SOI and EOI with nothing between (no SOF)', () => encodeFrame('cam1', header, Buffer.from([0xff, 0xd8, 0xff, 0xd9]))],
    ['jpeg-size', 'a header of 65535x65535 on a 320x240 JPEG', () => encodeFrame('cam1', { ...header, width: 65535, height: 65535 }, structuredJpeg(320, 240))],
    ['jpeg-size', 'width and height swapped', () => encodeFrame('cam1', { ...header, width: 1080, height: 1920 }, jpeg)],
  ];
  for (const [reason, what, parts] of rejections) {
    test(`decodeFrame rejects ${what} as '${reason}'`, () => {
      assert.throws(
        () => decodeFrame(parts(), limits),
        (error: unknown) => error instanceof ProtocolError && error.reason === reason && error.message.length > 0,
      );
    });
  }

  test('every reject reason of the zerocam format has a test case above', () => {
    const imagezmqOnly = new Set<RejectReason>(['imagezmq-metadata', 'array-size']);
    assert.deepEqual(new Set(rejections.map(([reason]) => reason)), new Set(REJECT_REASONS.filter((r) => !imagezmqOnly.has(r))));
  });

  test('capture_us, send_us and quality of 0 mean unknown and are accepted', () => {
    const unknown = { ...header, captureUs: 0, sendUs: 0, quality: 0 };
    assert.deepEqual(decodeFrame(encodeFrame('cam1', unknown, jpeg), limits).header, unknown);
  });

  test('a send_us before capture_us and a session of 0 are accepted (clocks step; a sender may lack one)', () => {
    const odd = { ...header, session: 0, sendUs: header.captureUs - 5 };
    assert.deepEqual(decodeFrame(encodeFrame('cam1', odd, jpeg), limits).header, odd);
  });

  test('baseline JPEGs with or without a JFIF APP0 segment, and progressive ones, are accepted', async () => {
    const sharp = (await import('sharp')).default;
    const raw = { raw: { width: 40, height: 30, channels: 3 as const } };
    const pixels = Buffer.alloc(40 * 30 * 3, 90);
    const baseline = await sharp(pixels, raw).jpeg().toBuffer();
    const app0 = Buffer.from([0xff, 0xe0, 0, 16, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    const variants = {
      'baseline, no APP0 (as sharp writes it)': baseline,
      'baseline with JFIF APP0': Buffer.concat([baseline.subarray(0, 2), app0, baseline.subarray(2)]),
      progressive: await sharp(pixels, raw).jpeg({ progressive: true }).toBuffer(),
    };
    for (const [what, encoded] of Object.entries(variants)) {
      const h = { ...header, width: 40, height: 30 };
      assert.equal(decodeFrame(encodeFrame('cam1', h, encoded), { maxFrameBytes: 1 << 20 }).jpeg, encoded, what);
    }
    assert.notEqual(baseline[3], 0xe0, 'sharp writes no APP0');
  });
});
