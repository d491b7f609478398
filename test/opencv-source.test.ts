import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SourceOpenError } from '../common/errors';
import { SharpJpegEncoder } from '../sender/encode/sharp-jpeg-encoder';
import { OpenCvSource } from '../sender/sources/opencv-source';
import { colorDistance, decodeJpeg, makeClip, pixelAt } from './helpers/media';

describe('OpenCV source (camera or file through VideoCapture)', () => {
  let dir: string;
  let clip: string;
  let red: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zc-clips-'));
    clip = await makeClip(join(dir, 'testsrc.mp4'), 'testsrc', { width: 320, height: 240, fps: 25, seconds: 1 });
    red = await makeClip(join(dir, 'red.mp4'), 'color=c=red', { width: 160, height: 120, fps: 30, seconds: 1 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a file source reads every frame of a clip made with ffmpeg, reports its fps, then ends', async (t) => {
    const source = OpenCvSource.openFile(clip, false);
    t.after(() => source.close());
    assert.equal(source.nativeFps, 25);
    let frames = 0;
    for (let frame = await source.read(); frame; frame = await source.read()) {
      assert.deepEqual([frame.width, frame.height, frame.pixels.length], [320, 240, 320 * 240 * 3]);
      frames++;
    }
    assert.equal(frames, 25);
    assert.equal(await source.read(), null);
  });

  test('a looping file source starts over at the end', async (t) => {
    const source = OpenCvSource.openFile(clip, true);
    t.after(() => source.close());
    for (let i = 0; i < 60; i++) assert.ok(await source.read(), `frame ${i}`);
  });

  test('a pure-red clip (BGR in OpenCV) arrives red in the JPEG', async (t) => {
    const source = OpenCvSource.openFile(red, false);
    t.after(() => source.close());
    const frame = (await source.read())!;
    const image = await decodeJpeg((await new SharpJpegEncoder({ quality: 80, optimiseCoding: false }).encode(frame)).jpeg);
    const pixel = pixelAt(image, 80, 60);
    assert.ok(colorDistance(pixel, [255, 0, 0]) <= 12, `got rgb(${pixel.join(',')})`);
  });

  test('close() is idempotent, and read() after close() returns null', async () => {
    const source = OpenCvSource.openFile(clip, false);
    source.close();
    source.close();
    assert.equal(await source.read(), null);
  });

  test('a device OpenCV cannot open fails with SourceOpenError carrying OpenCV\'s own (string) message', () => {
    assert.throws(
      () => OpenCvSource.openCamera('/dev/null', { width: 640, height: 480, fps: 30 }),
      (error: unknown) => error instanceof SourceOpenError && /^cannot open camera \/dev\/null: .*failed to open capture/.test(error.message),
    );
  });

  test('a camera index with no device behind it fails with a clear SourceOpenError', () => {
    assert.throws(
      () => OpenCvSource.openCamera(63, { width: 640, height: 480, fps: 30 }),
      (error: unknown) => error instanceof SourceOpenError && /^cannot open camera 63: /.test(error.message),
    );
  });

  test('a missing or unreadable file fails with a clear SourceOpenError', () => {
    assert.throws(() => OpenCvSource.openFile(join(dir, 'missing.mp4'), false), /cannot open file missing\.mp4: no such file/);
    assert.throws(() => OpenCvSource.openFile(__filename, false), /cannot open file .*: /);
  });
});
