import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { STANDARD_DHT_SEGMENT, withHuffmanTables } from '../sender/sources/jpeg-huffman';
import { estimateJpegQuality } from '../sender/sources/jpeg-quality';
import { JPEG_MARKER, jpegHeaderSegments, readJpegFrameInfo } from '../common/wire/jpeg-structure';
import { launchBrowser } from './helpers/browser';
import { chromiumMaxDifference } from './helpers/browser-decode';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { decodeJpeg, makeClip, makeMjpegAvi } from './helpers/media';
import { readIndex } from './helpers/recordings';
import { tempDir } from './helpers/temp-dir';

function start(t: TestContext, name: 'sender' | 'receiver', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

/** Distinct camera-like frames: a gradient plus noise, a different seed each. */
async function cameraFrames(count: number, width: number, height: number, quality: number): Promise<Buffer[]> {
  const frames: Buffer[] = [];
  for (let f = 0; f < count; f++) {
    const pixels = Buffer.alloc(width * height * 3);
    let state = f + 1;
    for (let i = 0; i < pixels.length; i++) {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      pixels[i] = ((i % (width * 3)) / 6 + f * 20 + ((state >> 16) % 40)) & 0xff;
    }
    frames.push(await sharp(pixels, { raw: { width, height, channels: 3 } }).jpeg({ quality, optimiseCoding: false }).toBuffer());
  }
  return frames;
}

/** The frame as a UVC camera that leaves out the Huffman tables sends it. */
function withoutHuffmanTables(jpeg: Buffer): Buffer {
  const dht = jpegHeaderSegments(jpeg).filter((s) => s.marker === JPEG_MARKER.DHT);
  let out = jpeg;
  for (const s of dht.reverse()) out = Buffer.concat([out.subarray(0, s.offset), out.subarray(s.offset + s.length)]);
  return out;
}

describe('standard Huffman tables for MJPEG frames without them', () => {
  test("the standard DHT segment holds exactly the tables libjpeg-turbo writes with optimised coding off", async () => {
    const [jpeg] = await cameraFrames(1, 32, 32, 80);
    const payloads = jpegHeaderSegments(jpeg!)
      .filter((s) => s.marker === JPEG_MARKER.DHT)
      .map((s) => jpeg!.subarray(s.offset + 4, s.offset + s.length));
    assert.deepEqual(STANDARD_DHT_SEGMENT.subarray(4), Buffer.concat(payloads));
    assert.equal(STANDARD_DHT_SEGMENT.readUInt16BE(2), STANDARD_DHT_SEGMENT.length - 2);
  });

  test('a frame that carries its tables is returned untouched', async () => {
    const [jpeg] = await cameraFrames(1, 64, 48, 80);
    assert.equal(withHuffmanTables(jpeg!), jpeg);
  });

  test('a frame without tables gets one DHT segment and then decodes pixel-identical in sharp and Chromium', async (t) => {
    const [original] = await cameraFrames(1, 333, 201, 75);
    const bare = withoutHuffmanTables(original!);
    assert.equal(readJpegFrameInfo(bare).hasHuffmanTables, false);
    const repaired = withHuffmanTables(bare);
    assert.equal(repaired.length, bare.length + STANDARD_DHT_SEGMENT.length);
    assert.equal(jpegHeaderSegments(repaired).filter((s) => s.marker === JPEG_MARKER.DHT).length, 1);
    const [a, b] = [await decodeJpeg(original!), await decodeJpeg(repaired)];
    assert.ok(a.pixels.equals(b.pixels));
    const page = await (await launchBrowser(t)).newPage();
    assert.equal(await chromiumMaxDifference(page, original!, repaired), 0);
  });

  test('the quality of a JPEG from an IJG-style encoder is read back from its quantisation table', async () => {
    for (const quality of [30, 50, 75, 90]) {
      const [jpeg] = await cameraFrames(1, 16, 16, quality);
      assert.ok(Math.abs(estimateJpegQuality(jpeg!) - quality) <= 1, `quality ${quality} read as ${estimateJpegQuality(jpeg!)}`);
    }
  });
});

describe('zerocam-sender --passthrough', () => {
  for (const tables of ['with', 'without'] as const) {
    test(`sends an MJPEG file's frames (${tables} Huffman tables) byte for byte${tables === 'without' ? ', plus the standard tables' : ''}, sized from SOF`, async (t) => {
      const dir = await tempDir(t, 'zc-passthrough-');
      const originals = await cameraFrames(6, 320, 240, 70);
      const sourceFrames = tables === 'with' ? originals : originals.map(withoutHuffmanTables);
      const clip = await makeMjpegAvi(dir, 'clip', sourceFrames);
      const out = join(dir, 'frames');
      const sender = start(t, 'sender', ['--bind', ipcEndpoint(), '--source', `file:${clip}`, '--passthrough', '--loop', '--topic', 'mjpeg', '--no-stats']);
      const receiver = start(t, 'receiver', ['--connect', await sender.ready(), '--out', out, '--frames', '12', '--no-stats']);
      assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
      sender.kill('SIGTERM');
      assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
      const index = await readIndex(out);
      assert.ok(index.length >= 1);
      for (const entry of index) {
        const saved = await readFile(join(out, entry.file));
        const expected = withHuffmanTables(sourceFrames[entry.seq % sourceFrames.length]!);
        assert.ok(saved.equals(expected), `frame ${entry.seq} differs from the source's`);
        assert.deepEqual([entry.width, entry.height], [320, 240]);
        const decoded = await decodeJpeg(saved);
        assert.ok(decoded.pixels.equals((await decodeJpeg(originals[entry.seq % originals.length]!)).pixels));
      }
    });
  }

  const usageCases: Array<[string, string[]]> = [
    ['--quality', ['--passthrough', '--quality', '50']],
    ['--resize', ['--passthrough', '--resize', '320x240']],
    ['--jpeg-optimise', ['--passthrough', '--jpeg-optimise']],
    ['--strips', ['--passthrough', '--strips', '2']],
    ['the test pattern (raw pixels, not JPEG)', ['--passthrough', '--source', 'testsrc']],
  ];
  for (const [what, args] of usageCases) {
    test(`--passthrough with ${what} is one readable line and exit code 2`, async (t) => {
      const child = start(t, 'sender', ['--bind', ipcEndpoint(), ...args]);
      const { code } = await child.exited;
      const lines = child.stderr.filter(Boolean);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^zerocam-sender: \S/);
      assert.equal(code, 2);
    });
  }

  test('--passthrough on a file that is not MJPEG (H.264) says so in one line and exits 2', async (t) => {
    const dir = await tempDir(t, 'zc-passthrough-');
    const clip = await makeClip(join(dir, 'h264.mp4'), 'testsrc', { width: 160, height: 120, fps: 30, seconds: 0.3 });
    const child = start(t, 'sender', ['--bind', ipcEndpoint(), '--source', `file:${clip}`, '--passthrough']);
    const { code } = await child.exited;
    assert.deepEqual(child.stderr.filter(Boolean), [`zerocam-sender: file h264.mp4 does not deliver JPEG frames, so --passthrough cannot send them as they are; drop --passthrough to encode them`]);
    assert.equal(code, 2);
  });

  test('--passthrough on a camera that is not there fails before asking it for MJPEG', async (t) => {
    const child = start(t, 'sender', ['--bind', ipcEndpoint(), '--source', 'camera:9', '--passthrough']);
    assert.equal((await child.exited).code, 2);
    assert.match(child.stderr.join('\n'), /^zerocam-sender: cannot open camera 9: /);
  });
});
