import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { JPEG_MARKER, JpegStructureError, jpegHeaderSegments, readJpegFrameInfo } from '../common/wire/jpeg-structure';

function rgb(width: number, height: number): Buffer {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7) & 0xff;
  return pixels;
}

async function encode(width: number, height: number, options: sharp.JpegOptions = {}): Promise<Buffer> {
  return sharp(rgb(width, height), { raw: { width, height, channels: 3 } }).jpeg({ quality: 80, ...options }).toBuffer();
}

/** The same JPEG with every DHT segment cut out, as many USB cameras send their MJPEG frames. */
function withoutHuffmanTables(jpeg: Buffer): Buffer {
  const dht = jpegHeaderSegments(jpeg).filter((s) => s.marker === JPEG_MARKER.DHT);
  const kept: Buffer[] = [];
  let from = 0;
  for (const s of dht) {
    kept.push(jpeg.subarray(from, s.offset));
    from = s.offset + s.length;
  }
  kept.push(jpeg.subarray(from));
  return Buffer.concat(kept);
}

describe('JPEG structure', () => {
  test('reads width and height from SOF, for odd sizes too', async () => {
    for (const [width, height] of [[320, 240], [1279, 719], [17, 3]] as const) {
      const info = readJpegFrameInfo(await encode(width, height));
      assert.deepEqual([info.width, info.height, info.progressive, info.components], [width, height, false, 3]);
      assert.equal(info.sofMarker, JPEG_MARKER.SOF0);
    }
  });

  test('tells a progressive JPEG from a baseline one', async () => {
    assert.equal(readJpegFrameInfo(await encode(64, 48, { progressive: true })).progressive, true);
  });

  test('tells whether the Huffman tables are present', async () => {
    const jpeg = await encode(64, 48, { optimiseCoding: false });
    assert.equal(readJpegFrameInfo(jpeg).hasHuffmanTables, true);
    const bare = withoutHuffmanTables(jpeg);
    assert.equal(readJpegFrameInfo(bare).hasHuffmanTables, false);
    assert.equal(readJpegFrameInfo(bare).width, 64);
  });

  test('the segments end at SOS, where the scan begins', async () => {
    const jpeg = await encode(32, 32);
    const segments = jpegHeaderSegments(jpeg);
    const sos = segments[segments.length - 1]!;
    assert.equal(sos.marker, JPEG_MARKER.SOS);
    assert.equal(readJpegFrameInfo(jpeg).scanOffset, sos.offset);
    assert.deepEqual([jpeg[sos.offset], jpeg[sos.offset + 1]], [0xff, 0xda]);
  });

  test('rejects broken structure with JpegStructureError, never a RangeError', async () => {
    const jpeg = await encode(32, 32);
    const cases: Record<string, Buffer> = {
      'no SOI': jpeg.subarray(2),
      'just SOI and EOI': Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
      'truncated in the headers': jpeg.subarray(0, 30),
      'a segment length past the end': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0xff, 0xff, 0x00]),
      'a zero segment length': Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x00, 0xff, 0xd9]),
      'garbage after SOI': Buffer.from([0xff, 0xd8, 0x12, 0x34, 0xff, 0xd9]),
      empty: Buffer.alloc(0),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      assert.throws(() => readJpegFrameInfo(bytes), JpegStructureError, name);
    }
  });

  test('rejects a SOF with an empty size', async () => {
    const jpeg = Buffer.from(await encode(16, 16));
    const sof = jpegHeaderSegments(jpeg).find((s) => s.marker === JPEG_MARKER.SOF0)!;
    jpeg.writeUInt16BE(0, sof.offset + 5);
    assert.throws(() => readJpegFrameInfo(jpeg), /empty frame size/);
  });
});
