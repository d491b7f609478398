import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { EncoderInputError } from '../common/errors';
import { STANDARD_DHT_SEGMENT } from '../sender/sources/jpeg-huffman';
import { JpegJoinError, joinJpegStrips, mcuSize } from '../sender/encode/jpeg-restart';
import { JPEG_MARKER, jpegHeaderSegments, readJpegFrameInfo } from '../common/wire/jpeg-structure';
import { createFrameEncoder } from '../sender/encode/choose-encoder';
import { SharpJpegEncoder } from '../sender/encode/sharp-jpeg-encoder';
import { OpenCvJpegEncoder } from '../sender/encode/opencv-jpeg-encoder';
import type { RawFrame } from '../sender/sources/frame-source';
import { OpenCvSource } from '../sender/sources/opencv-source';
import { loadOpenCv } from '../common/opencv-loader';
import { planStrips } from '../sender/encode/strip-plan';
import { TestPatternSource, testPatternLayout } from '../sender/sources/test-pattern';
import { launchBrowser } from './helpers/browser';
import { chromiumMaxDifference } from './helpers/browser-decode';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { colorDistance, decodeJpeg, makeClip, pixelAt } from './helpers/media';
import { countRestartMarkers, maxDifference, noisyFrame, STRIP_CASES } from './helpers/noisy-frame';
import { readIndex } from './helpers/recordings';
import { tempDir } from './helpers/temp-dir';

const opencv = new OpenCvJpegEncoder({ quality: 80, optimiseCoding: false });

/** A frame of one colour, its bytes in the frame's order. */
function solidFrame(width: number, height: number, rgb: readonly [number, number, number], order: 'rgb' | 'bgr'): RawFrame {
  const bytes = order === 'rgb' ? rgb : [rgb[2], rgb[1], rgb[0]];
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i += 3) pixels.set(bytes, i);
  return { pixels, order, width, height, captureUs: 0 };
}

describe('--encoder opencv: cv.imencode on BGR frames', () => {
  for (const [width, height, strips] of STRIP_CASES) {
    test(`a ${width}x${height} BGR frame encoded as ${strips} strip(s) decodes pixel-identical to a whole-frame encode in OpenCV and sharp`, async () => {
      const frame = noisyFrame(width, height, 3, 'bgr');
      const whole = await opencv.encode(frame, 1);
      const striped = await opencv.encode(frame, strips);
      const plan = planStrips(width, height, strips);
      assert.equal(striped.strips, plan.length);
      assert.deepEqual([striped.width, striped.height], [width, height]);
      assert.equal(countRestartMarkers(striped.jpeg), plan.length - 1);
      const cv = loadOpenCv();
      const [ma, mb] = [cv.imdecode(whole.jpeg), cv.imdecode(striped.jpeg)];
      assert.deepEqual([mb.cols, mb.rows], [width, height]);
      assert.equal(maxDifference(ma.getData(), mb.getData()), 0);
      const [a, b] = [await decodeJpeg(whole.jpeg), await decodeJpeg(striped.jpeg)];
      assert.equal(maxDifference(a.pixels, b.pixels), 0);
      assert.ok(striped.jpeg.length <= whole.jpeg.length * 1.01, `${striped.jpeg.length} vs ${whole.jpeg.length} bytes`);
    });
  }

  test("Chromium's decoder shows joined OpenCV strips pixel-identical to a whole-frame encode (1080 high, an odd width)", async (t) => {
    const page = await (await launchBrowser(t)).newPage();
    for (const [width, height, strips] of [[1920, 1080, 2], [641, 479, 4]] as const) {
      const frame = noisyFrame(width, height, 9, 'bgr');
      const whole = await opencv.encode(frame, 1);
      const striped = await opencv.encode(frame, strips);
      assert.ok(striped.strips > 1);
      assert.equal(await chromiumMaxDifference(page, whole.jpeg, striped.jpeg), 0, `${width}x${height} in ${strips} strips`);
    }
  });

  test("imencode's strips are what the join assumes: baseline, 4:2:0, the standard Huffman tables, one scan, the same DQT", () => {
    const cv = loadOpenCv();
    const frame = noisyFrame(640, 480, 5, 'bgr');
    const mat = new cv.Mat(frame.height, frame.width, cv.CV_8UC3, frame.pixels);
    const flags = [cv.IMWRITE_JPEG_QUALITY, 80];
    const [top, bottom] = [0, 240].map((y) => cv.imencode('.jpg', mat.getRegion(new cv.Rect(0, y, 640, 240)), flags));
    const tables = (jpeg: Buffer, marker: number): Buffer =>
      Buffer.concat(jpegHeaderSegments(jpeg).filter((s) => s.marker === marker).map((s) => jpeg.subarray(s.offset + 4, s.offset + s.length)));
    for (const strip of [top!, bottom!]) {
      const info = readJpegFrameInfo(strip);
      assert.equal(info.sofMarker, JPEG_MARKER.SOF0);
      assert.deepEqual(mcuSize(strip), { width: 16, height: 16 }, '4:2:0');
      assert.ok(tables(strip, JPEG_MARKER.DHT).equals(STANDARD_DHT_SEGMENT.subarray(4)), 'the standard Huffman tables of Annex K');
      assert.equal(jpegHeaderSegments(strip).filter((s) => s.marker === JPEG_MARKER.SOS).length, 1);
    }
    assert.ok(tables(top!, JPEG_MARKER.DQT).equals(tables(bottom!, JPEG_MARKER.DQT)));
  });

  test('the join refuses OpenCV strips it cannot join: optimised Huffman tables, another quality, another sampling, more than one scan, progressive', async () => {
    const cv = loadOpenCv();
    const frame = noisyFrame(64, 32, 2, 'bgr');
    const mat = new cv.Mat(frame.height, frame.width, cv.CV_8UC3, frame.pixels);
    const strip = (y: number, flags: number[]): Buffer => cv.imencode('.jpg', mat.getRegion(new cv.Rect(0, y, 64, 16)), flags);
    const plain = [cv.IMWRITE_JPEG_QUALITY, 80];
    assert.ok(joinJpegStrips([strip(0, plain), strip(16, plain)]).length > 0);
    const optimised = [...plain, cv.IMWRITE_JPEG_OPTIMIZE, 1];
    assert.throws(() => joinJpegStrips([strip(0, optimised), strip(16, optimised)]), (e: unknown) => e instanceof JpegJoinError && /tables/.test(e.message));
    assert.throws(() => joinJpegStrips([strip(0, plain), strip(16, [cv.IMWRITE_JPEG_QUALITY, 60])]), JpegJoinError);
    // OpenCV 4.6 cannot choose its sampling; sharp's 4:4:4 at the same quality and tables stands in.
    const sampled444 = await sharp(frame.pixels.subarray(16 * 64 * 3), { raw: { width: 64, height: 16, channels: 3 } }).jpeg({ quality: 80, optimiseCoding: false, chromaSubsampling: '4:4:4' }).toBuffer();
    assert.throws(() => joinJpegStrips([strip(0, plain), sampled444]), JpegJoinError);
    // A first scan that does not carry every component means more scans follow (allowed in baseline).
    const partialScan = Buffer.from(strip(16, plain));
    const sos = jpegHeaderSegments(partialScan).find((segment) => segment.marker === JPEG_MARKER.SOS)!;
    partialScan[sos.offset + 4] = 1;
    assert.throws(() => joinJpegStrips([strip(0, plain), partialScan]), (e: unknown) => e instanceof JpegJoinError && /single interleaved scan/.test(e.message));
    const progressive = [...plain, cv.IMWRITE_JPEG_PROGRESSIVE, 1];
    assert.throws(() => joinJpegStrips([strip(0, progressive), strip(16, progressive)]), (e: unknown) => e instanceof JpegJoinError && /baseline/.test(e.message));
  });

  test('colours come out right: a known colour in BGR order (OpenCV) and in RGB order (either encoder) decodes as that colour', async () => {
    const orange: [number, number, number] = [240, 120, 16];
    const encodings = [
      await opencv.encode(solidFrame(64, 48, orange, 'bgr')),
      await opencv.encode(solidFrame(64, 48, orange, 'bgr'), 2),
      await opencv.encode(solidFrame(64, 48, orange, 'rgb')),
      await new SharpJpegEncoder({ quality: 80, optimiseCoding: false }).encode(solidFrame(64, 48, orange, 'rgb')),
    ];
    for (const [i, encoded] of encodings.entries()) {
      const decoded = await decodeJpeg(encoded.jpeg);
      assert.ok(colorDistance(pixelAt(decoded, 32, 24), orange) <= 4, `encoding ${i}: got ${pixelAt(decoded, 32, 24).join(',')}`);
    }
  });

  test('sharp refuses BGR bytes with an EncoderInputError rather than swap red and blue', async () => {
    await assert.rejects(new SharpJpegEncoder({ quality: 80, optimiseCoding: false }).encode(solidFrame(16, 16, [255, 0, 0], 'bgr')), EncoderInputError);
  });

  test('the test pattern in BGR order, encoded by OpenCV, shows its colour bars in their colours', async () => {
    const [width, height] = [320, 240];
    const frame = (await new TestPatternSource(width, height, 'bgr').read())!;
    assert.equal(frame.order, 'bgr');
    const decoded = await decodeJpeg((await opencv.encode(frame, 2)).jpeg);
    const layout = testPatternLayout(width, height);
    for (let bar = 0; bar < 8; bar++) {
      const x = Math.round(((bar + 0.5) * width) / 8);
      assert.ok(colorDistance(pixelAt(decoded, x, 40), layout.barColor(x)) <= 8, `bar ${bar}: ${pixelAt(decoded, x, 40).join(',')}`);
    }
  });

  test('a file read in BGR order hands on the capture\'s own bytes, and OpenCV encodes them to the right colour', async (t) => {
    const clip = await makeClip(join(await tempDir(t, 'zc-opencv-encoder-'), 'red.mp4'), 'color=c=0xdc1e1e', { width: 64, height: 48, fps: 10, seconds: 1 });
    const source = OpenCvSource.openFile(clip, false, 'bgr');
    t.after(() => source.close());
    const frame = (await source.read())!;
    assert.equal(frame.order, 'bgr');
    assert.ok(colorDistance([...frame.pixels.subarray(0, 3)], [0x1e, 0x1e, 0xdc]) <= 6, `BGR bytes ${[...frame.pixels.subarray(0, 3)].join(',')}`);
    const decoded = await decodeJpeg((await opencv.encode(frame)).jpeg);
    assert.ok(colorDistance(pixelAt(decoded, 32, 24), [0xdc, 0x1e, 0x1e]) <= 8, `decoded ${pixelAt(decoded, 32, 24).join(',')}`);
  });

  test('--resize and --adapt scale with the OpenCV encoder too: the frame fits inside the box', async () => {
    const frame = noisyFrame(640, 480, 4, 'bgr');
    const encoded = await new OpenCvJpegEncoder({ quality: 80, optimiseCoding: false, resize: { width: 320, height: 320 } }).encode(frame, 2);
    assert.deepEqual([encoded.width, encoded.height], [320, 240]);
    assert.deepEqual([readJpegFrameInfo(encoded.jpeg).width, readJpegFrameInfo(encoded.jpeg).height], [320, 240]);
    const scaled = await new OpenCvJpegEncoder({ quality: 80, optimiseCoding: false, scale: 0.5 }).encode(frame);
    assert.deepEqual([scaled.width, scaled.height], [320, 240]);
  });

  test('the encoder takes the order its frames must be in: BGR for OpenCV, RGB for sharp', () => {
    const settings = { quality: 80, optimiseCoding: false };
    assert.equal(createFrameEncoder('opencv', settings).order, 'bgr');
    assert.equal(createFrameEncoder('sharp', settings).order, 'rgb');
    assert.equal(createFrameEncoder(undefined, settings).order, 'bgr', 'OpenCV is the default where it is built');
  });
});

describe('zerocam-sender --encoder', () => {
  const start = (t: TestContext, name: 'sender' | 'receiver', args: string[]): CliProcess => {
    const child = new CliProcess(name, args);
    t.after(() => child.stop());
    return child;
  };

  for (const encoder of ['opencv', 'sharp'] as const) {
    test(`--encoder ${encoder} streams the test pattern end to end, its colour bars in their colours`, async (t) => {
      const out = join(await tempDir(t, 'zc-opencv-encoder-'), 'frames');
      const [width, height] = [320, 240];
      const sender = start(t, 'sender', ['--bind', ipcEndpoint(), '--encoder', encoder, '--strips', '2', '--width', String(width), '--height', String(height), '--fps', '60', '--no-stats']);
      const receiver = start(t, 'receiver', ['--connect', await sender.ready(), '--out', out, '--frames', '5', '--no-stats']);
      assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
      sender.kill('SIGTERM');
      assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
      const index = await readIndex(out);
      assert.ok(index.length >= 1);
      const layout = testPatternLayout(width, height);
      for (const entry of index) {
        const decoded = await decodeJpeg(await readFile(join(out, entry.file)));
        assert.deepEqual([decoded.width, decoded.height], [width, height]);
        for (let bar = 0; bar < 8; bar++) {
          const x = Math.round(((bar + 0.5) * width) / 8);
          assert.ok(colorDistance(pixelAt(decoded, x, 40), layout.barColor(x)) <= 8, `${entry.file} bar ${bar}: ${pixelAt(decoded, x, 40).join(',')}`);
        }
      }
    });
  }

  for (const [what, args, env] of [
    ['a bad --encoder value', ['--encoder', 'libjpeg'], {}],
    ['a bad ZEROCAM_ENCODER', [], { ZEROCAM_ENCODER: 'gpu' }],
    ['--encoder with --passthrough', ['--encoder', 'sharp', '--passthrough'], {}],
  ] as const) {
    test(`${what} is one readable line and exit code 2`, async (t) => {
      const child = new CliProcess('sender', ['--bind', ipcEndpoint(), ...args], env);
      t.after(() => child.stop());
      const { code } = await child.exited;
      const lines = child.stderr.filter(Boolean);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^zerocam-sender: .*encoder/);
      assert.equal(code, 2);
    });
  }
});
