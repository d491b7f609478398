import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import { JPEG_MARKER, jpegHeaderSegments, readJpegFrameInfo } from '../common/wire/jpeg-structure';
import { JpegJoinError, joinJpegStrips, MAX_RESTART_INTERVAL } from '../sender/encode/jpeg-restart';
import { SharpJpegEncoder } from '../sender/encode/sharp-jpeg-encoder';
import { MCU_SIZE, planStrips, STRIP_PROBE_EVERY, STRIPS_MIN_GAIN, StripChooser } from '../sender/encode/strip-plan';
import { loadOpenCv } from '../common/opencv-loader';
import { launchBrowser } from './helpers/browser';
import { chromiumMaxDifference } from './helpers/browser-decode';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { decodeJpeg } from './helpers/media';
import { countRestartMarkers, maxDifference, noisyFrame, STRIP_CASES } from './helpers/noisy-frame';

const encoder = new SharpJpegEncoder({ quality: 80, optimiseCoding: false });

describe('parallel strips', () => {
  for (const [width, height, strips] of STRIP_CASES) {
    test(`a ${width}x${height} frame encoded as ${strips} strip(s) decodes pixel-identical to a whole-frame encode in sharp and OpenCV`, async () => {
      const frame = noisyFrame(width, height);
      const whole = await encoder.encode(frame, 1);
      const striped = await encoder.encode(frame, strips);
      const plan = planStrips(width, height, strips);
      assert.equal(striped.strips, plan.length);
      assert.deepEqual(readJpegFrameInfo(striped.jpeg), { ...readJpegFrameInfo(striped.jpeg), width, height, progressive: false });
      assert.equal(countRestartMarkers(striped.jpeg), plan.length - 1);
      const [a, b] = [await decodeJpeg(whole.jpeg), await decodeJpeg(striped.jpeg)];
      assert.equal(maxDifference(a.pixels, b.pixels), 0);
      const cv = loadOpenCv();
      const [ma, mb] = [cv.imdecode(whole.jpeg), cv.imdecode(striped.jpeg)];
      assert.deepEqual([mb.cols, mb.rows], [width, height]);
      assert.equal(maxDifference(ma.getData(), mb.getData()), 0);
      // Restart markers and a DRI segment cost a few bytes per strip, nothing more.
      assert.ok(striped.jpeg.length <= whole.jpeg.length * 1.01, `${striped.jpeg.length} vs ${whole.jpeg.length} bytes`);
    });
  }

  test("Chromium's decoder shows joined strips pixel-identical to a whole-frame encode (1080 high, an odd width)", async (t) => {
    const page = await (await launchBrowser(t)).newPage();
    for (const [width, height, strips] of [[1920, 1080, 2], [641, 479, 4], [1280, 720, 9]] as const) {
      const frame = noisyFrame(width, height, 7);
      const whole = await encoder.encode(frame, 1);
      const striped = await encoder.encode(frame, strips);
      assert.ok(striped.strips > 1);
      assert.equal(await chromiumMaxDifference(page, whole.jpeg, striped.jpeg), 0, `${width}x${height} in ${strips} strips`);
    }
  });

  test('strips are cut at multiples of the MCU height, the last taking the rest', () => {
    assert.deepEqual(planStrips(1920, 1080, 2), [{ top: 0, height: 544 }, { top: 544, height: 536 }]);
    assert.deepEqual(planStrips(640, 480, 1), [{ top: 0, height: 480 }]);
    assert.deepEqual(planStrips(640, 16, 4), [{ top: 0, height: 16 }], 'one MCU row cannot be split');
    for (const [width, height, strips] of STRIP_CASES) {
      const plan = planStrips(width, height, strips);
      assert.equal(plan.reduce((sum, s) => sum + s.height, 0), height);
      assert.ok(plan.slice(0, -1).every((s) => s.height % MCU_SIZE === 0));
    }
  });

  test('a very wide frame is cut into more strips rather than overflow the 16-bit restart interval', () => {
    const plan = planStrips(65520, 2048, 2);
    const mcusPerStrip = (65520 / MCU_SIZE) * (plan[0]!.height / MCU_SIZE);
    assert.ok(mcusPerStrip <= MAX_RESTART_INTERVAL, `${mcusPerStrip} MCUs per strip`);
    assert.ok(plan.length > 2);
  });

  test('joining strips whose restart interval overflows 16 bits is a JpegJoinError, never a silent wrap', async () => {
    // 2048 MCUs per row x 31 MCU rows = 63488 MCUs fits; 32 rows = 65536 does not.
    const strip = async (height: number): Promise<Buffer> =>
      sharp({ create: { width: 32768, height, channels: 3, background: { r: 90, g: 120, b: 30 } } }).jpeg({ quality: 80, optimiseCoding: false, chromaSubsampling: '4:2:0' }).toBuffer();
    const fits = await strip(31 * 16);
    assert.ok(joinJpegStrips([fits, fits]).length > 0);
    const tooTall = await strip(32 * 16);
    assert.throws(() => joinJpegStrips([tooTall, tooTall]), (error: unknown) => error instanceof JpegJoinError && /restart interval/.test(error.message));
  });

  test('strips with different quality (other quantisation tables) are refused', async () => {
    const frame = noisyFrame(64, 32);
    const [top, bottom] = await Promise.all(
      [80, 60].map((quality) => sharp(frame.pixels.subarray(0, 64 * 16 * 3), { raw: { width: 64, height: 16, channels: 3 } }).jpeg({ quality, optimiseCoding: false }).toBuffer()),
    );
    assert.throws(() => joinJpegStrips([top!, bottom!]), JpegJoinError);
  });

  test('the joined JPEG is baseline with one DRI segment whose interval is the MCUs per strip', async () => {
    const striped = await encoder.encode(noisyFrame(1280, 720), 2);
    const jpeg = striped.jpeg;
    const dri = jpegHeaderSegments(jpeg).filter((s) => s.marker === JPEG_MARKER.DRI);
    assert.equal(dri.length, 1);
    assert.equal(jpeg.readUInt16BE(dri[0]!.offset + 4), (1280 / 16) * (368 / 16));
    assert.equal(readJpegFrameInfo(jpeg).sofMarker, JPEG_MARKER.SOF0);
  });

  test('--strips auto: every core while nothing else encodes, whole frames under load, never with optimised coding', () => {
    assert.equal(new StripChooser('auto', 4, false).stripsFor(0), 4);
    assert.equal(new StripChooser('auto', 4, false).stripsFor(2), 1);
    assert.equal(new StripChooser(3, 4, false).stripsFor(2), 3);
    assert.equal(new StripChooser('auto', 4, true).stripsFor(0), 1);
    assert.equal(new StripChooser('auto', 1, false).stripsFor(0), 1);
  });

  test('--strips auto keeps to whole frames while they finish sooner, and tries strips again now and then', () => {
    const chooser = new StripChooser('auto', 2, false);
    const choices: number[] = [];
    const encode = (stripUs: number, wholeUs: number): void => {
      const strips = chooser.stripsFor(0);
      choices.push(strips);
      chooser.record(strips, strips > 1 ? stripUs : wholeUs, 0);
    };
    // Strips first; a probe of whole frames finds them faster (other work fills the other core).
    for (let i = 0; i < STRIP_PROBE_EVERY * 3; i++) encode(6000, 5000);
    const afterFirstProbe = choices.slice(STRIP_PROBE_EVERY);
    assert.equal(choices[0], 2);
    assert.equal(choices[STRIP_PROBE_EVERY - 1], 1, 'the first probe tries whole frames');
    assert.ok(afterFirstProbe.filter((s) => s === 1).length > afterFirstProbe.length * 0.9, 'then mostly whole frames');
    assert.ok(afterFirstProbe.includes(2), 'strips are still tried now and then');
    // The other work ends: strips win again once a probe measures them fast enough.
    for (let i = 0; i < STRIP_PROBE_EVERY * 6; i++) encode(2500, 5000);
    const lastWindow = choices.slice(-STRIP_PROBE_EVERY);
    assert.equal(lastWindow.filter((s) => s === 1).length, 1, 'strips, but for one probe of whole frames');
  });

  test('--strips auto keeps to whole frames when strips save less than STRIPS_MIN_GAIN of their time, and takes strips that save more', () => {
    const run = (stripUs: number): number[] => {
      const chooser = new StripChooser('auto', 2, false);
      const choices: number[] = [];
      for (let i = 0; i < STRIP_PROBE_EVERY * 4; i++) {
        const strips = chooser.stripsFor(0);
        choices.push(strips);
        chooser.record(strips, strips > 1 ? stripUs : 5000, 0);
      }
      return choices.slice(STRIP_PROBE_EVERY);
    };
    const slightlyFaster = run(5000 * (1 - STRIPS_MIN_GAIN / 2));
    assert.ok(slightlyFaster.filter((s) => s === 1).length > slightlyFaster.length * 0.9, 'a small gain: whole frames');
    const clearlyFaster = run(5000 * (1 - STRIPS_MIN_GAIN * 2));
    assert.ok(clearlyFaster.filter((s) => s === 2).length > clearlyFaster.length * 0.9, 'a clear gain: strips');
  });

  test('--strips auto learns only from frames encoded alone', () => {
    const chooser = new StripChooser('auto', 2, false);
    chooser.record(1, 100, 0);
    chooser.record(2, 200, 3);
    // Whole frames have a time, strips none measured alone: strips stay the default.
    assert.equal(chooser.stripsFor(0), 2);
  });
});

describe('zerocam-sender --strips', () => {
  const run = async (t: TestContext, args: string[]): Promise<{ code: number | null; lines: string[] }> => {
    const child = new CliProcess('sender', ['--bind', ipcEndpoint(), ...args]);
    t.after(() => child.stop());
    const { code } = await child.exited;
    return { code, lines: child.stderr.filter(Boolean) };
  };

  for (const [what, args] of [
    ['0', ['--strips', '0']],
    ['a word other than auto', ['--strips', 'many']],
    ['--jpeg-optimise (strips need the standard tables)', ['--strips', '2', '--jpeg-optimise']],
  ] as const) {
    test(`--strips with ${what} is one readable line and exit code 2`, async (t) => {
      const { code, lines } = await run(t, [...args]);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^zerocam-sender: .*strips/);
      assert.equal(code, 2);
    });
  }
});
