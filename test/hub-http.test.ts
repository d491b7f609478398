import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { openPage, screenshot } from './helpers/browser';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { readIndex } from './helpers/recordings';
import { readMjpegParts } from './helpers/mjpeg';
import { webUrl } from './helpers/web-url';
import { tempDir } from './helpers/temp-dir';

const run = promisify(execFile);
const SMALL = ['--width', '320', '--height', '240'];

function start(t: TestContext, name: 'sender' | 'receiver' | 'hub', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

async function startHubWithHttp(t: TestContext): Promise<{ hub: CliProcess; senders: string; url: string }> {
  const hub = start(t, 'hub', ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', '--http', '0']);
  const forwarding = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
  const serving = await hub.waitForJson('stderr', (r) => r.event === 'serving');
  return { hub, senders: String(forwarding.senders), url: String(serving.url) };
}

/** A fingerprint of what an <img> shows now (runs in the page). */
function samplePixels(selector: string): string {
  const image = document.querySelector<HTMLImageElement>(selector)!;
  const canvas = document.createElement('canvas');
  canvas.width = image.naturalWidth;
  canvas.height = image.naturalHeight;
  const context = canvas.getContext('2d')!;
  context.drawImage(image, 0, 0);
  return Array.from(context.getImageData(0, 0, canvas.width, canvas.height).data.filter((_, i) => i % 97 === 0)).join(',');
}

describe('zerocam-hub --http (web gateway)', () => {
  test('MJPEG parses into complete JPEGs and ffmpeg reads it; snapshots are the sender\'s bytes; /streams.json and /metrics describe the stream', async (t) => {
    const { hub, senders, url } = await startHubWithHttp(t);
    const dir = await tempDir(t, 'zc-hub-http-');
    // A receiver fed by the sender directly (its PUB connects to both), to compare the hub's snapshot with the sender's bytes.
    const direct = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--bind', direct, '--out', join(dir, 'frames'), '--no-fsync']);
    await receiver.ready();
    const sender = start(t, 'sender', ['--connect', `${senders},${direct}`, '--topic', 'cam1', ...SMALL, '--fps', '15', '--no-stats']);
    await sender.ready();
    await hub.waitForJson('stdout', (r) => Number((r.streams as Record<string, JsonRecord> | undefined)?.cam1?.frames) >= 3);

    const response = await fetch(webUrl(url, 'stream/cam1.mjpeg'));
    assert.equal(response.status, 200);
    for (const part of await readMjpegParts(response.body!, 3)) {
      const meta = await sharp(part).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 240]);
    }

    await run('ffmpeg', ['-v', 'error', '-y', '-i', webUrl(url, 'stream/cam1.mjpeg'), '-frames:v', '3', join(dir, 'ffmpeg-%d.jpg')], { timeout: 30_000 });
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('ffmpeg-')).sort(), ['ffmpeg-1.jpg', 'ffmpeg-2.jpg', 'ffmpeg-3.jpg']);

    const snapshot = Buffer.from(await (await fetch(webUrl(url, 'snapshot/cam1.jpg'))).arrayBuffer());
    // Every frame sent before the snapshot was taken is saved by the receiver's next report.
    const mark = receiver.stdout.length;
    await receiver.waitForJson('stdout', () => receiver.stdout.length > mark);
    const saved = await Promise.all((await readIndex(join(dir, 'frames'))).map((entry) => readFile(join(dir, 'frames', entry.file))));
    assert.ok(saved.some((file) => file.equals(snapshot)), 'the snapshot is byte for byte one of the frames the sender sent');
    assert.equal((await fetch(webUrl(url, 'snapshot/nobody.jpg'))).status, 404);

    const { streams } = (await (await fetch(webUrl(url, 'streams.json'))).json()) as { streams: JsonRecord[] };
    assert.equal(streams.length, 1);
    const [stream] = streams;
    assert.equal(stream?.topic, 'cam1');
    assert.equal(stream.state, 'live');
    assert.deepEqual([stream.width, stream.height], [320, 240]);
    assert.ok(Number(stream.frames) >= 3 && Number(stream.fps) > 0 && Number(stream.bytesPerSecond) > 0);
    assert.ok(!Number.isNaN(Date.parse(String(stream.lastFrameTime))));
    assert.ok(typeof (stream.latencyMs as JsonRecord).p99 === 'number');

    const metrics = await (await fetch(webUrl(url, 'metrics'))).text();
    assert.match(metrics, /^zerocam_frames_total\{topic="cam1"\} [1-9]\d*$/m);
    assert.match(metrics, /^zerocam_bytes_total\{topic="cam1"\} [1-9]\d*$/m);
    assert.match(metrics, /^zerocam_hub_receivers \d+$/m);
    assert.match(metrics, /^zerocam_latency_seconds\{topic="cam1",quantile="0.5"\} /m);
  });

  test('Chromium shows the hub\'s page with three live tiles, and an <img> plays its MJPEG', async (t) => {
    const { senders, url } = await startHubWithHttp(t);
    const topics = ['garden', 'garage', 'porch'];
    for (const topic of topics) await start(t, 'sender', ['--connect', senders, '--topic', topic, ...SMALL, '--fps', '15', '--no-stats']).ready();

    const page = await openPage(t, url);
    for (const topic of topics) {
      await page.waitForSelector(`.tile[data-stream$="/${topic}"][data-state="live"]`);
      await page.waitForFunction((selector) => Number(document.querySelector<HTMLElement>(selector)?.dataset.displayed ?? 0) > 3, `.tile[data-stream$="/${topic}"]`);
    }
    assert.equal(await page.locator('.tile').count(), 3);
    await screenshot(page, 'hub-three-tiles');

    const mjpegPage = await page.context().browser()!.newPage();
    // A page of the hub's own origin, so the canvas may read the image back.
    await mjpegPage.goto(webUrl(url, 'streams.json'));
    await mjpegPage.setContent(`<img id="cam" src="${webUrl(url, 'stream/garden.mjpeg')}">`);
    await mjpegPage.waitForFunction(() => document.querySelector<HTMLImageElement>('#cam')!.naturalWidth === 320);
    // The moving box changes every frame: the picture painted later differs from the first one.
    await mjpegPage.evaluate(`window.samplePixels = ${samplePixels.toString()}`);
    type Sampling = Window & { samplePixels: typeof samplePixels };
    const first = await mjpegPage.evaluate(() => (window as unknown as Sampling).samplePixels('#cam'));
    await mjpegPage.waitForFunction((before) => (window as unknown as Sampling).samplePixels('#cam') !== before, first);
  });
});

describe('zerocam-viewer --web serves the same gateway', () => {
  test('/snapshot, /stream and /streams.json of the streams it was started with', async (t) => {
    const endpoint = ipcEndpoint();
    const sender = start(t, 'sender', ['--bind', endpoint, '--topic', 'cam1', ...SMALL, '--fps', '15', '--no-stats']);
    await sender.ready();
    const viewer = new CliProcess('viewer', ['--web', '--port', '0', '--connect', endpoint, '--topic', 'cam1']);
    t.after(() => viewer.stop());
    const url = String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
    const response = await fetch(webUrl(url, 'stream/cam1.mjpeg'));
    const [part] = await readMjpegParts(response.body!, 1);
    assert.equal((await sharp(part).metadata()).width, 320);
    const snapshot = await fetch(webUrl(url, 'snapshot/cam1.jpg'));
    assert.equal(snapshot.status, 200);
    assert.equal((await sharp(Buffer.from(await snapshot.arrayBuffer())).metadata()).format, 'jpeg');
    const { streams } = (await (await fetch(webUrl(url, 'streams.json'))).json()) as { streams: JsonRecord[] };
    assert.deepEqual(streams.map((s) => s.topic), ['cam1']);
    assert.equal((await fetch(webUrl(url, 'snapshot/other.jpg'))).status, 404);
  });
});
