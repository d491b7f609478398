import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { Page } from 'playwright-core';
import { TEST_PATTERN_BARS, testPatternLayout } from '../sender/sources/test-pattern';
import { CliProcess } from './helpers/cli-process';
import { openPage, screenshot } from './helpers/browser';
import { ipcEndpoint } from './helpers/endpoints';
import { colorDistance } from './helpers/media';

const WIDTH = 320;
const HEIGHT = 240;

function start(t: TestContext, name: 'sender' | 'viewer', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

async function startSender(t: TestContext, endpoint: string, topic: string): Promise<CliProcess> {
  const sender = start(t, 'sender', ['--bind', endpoint, '--topic', topic, '--width', String(WIDTH), '--height', String(HEIGHT), '--no-stats']);
  await sender.ready();
  return sender;
}

async function startViewer(t: TestContext, args: string[]): Promise<string> {
  const viewer = start(t, 'viewer', ['--web', '--port', '0', ...args]);
  const record = await viewer.waitForJson('stderr', (r) => r.event === 'serving');
  return String(record.url);
}

const tileSelector = (topic: string, state?: string): string => `.tile[data-stream$="/${topic}"]${state ? `[data-state="${state}"]` : ''}`;

/** Resolves once the tile has painted more than `count` frames. */
async function displayedMoreThan(page: Page, topic: string, count: number): Promise<number> {
  const handle = await page.waitForFunction(
    ([selector, n]) => {
      const shown = Number(document.querySelector<HTMLElement>(selector)?.dataset.displayed ?? 0);
      return shown > n ? shown : false;
    },
    [tileSelector(topic), count] as const,
  );
  return Number(await handle.jsonValue());
}

function readCanvas(page: Page, topic: string, points: Array<[number, number]>): Promise<number[][]> {
  return page.$eval(
    `${tileSelector(topic)} canvas.frame`,
    (canvas, pts) => {
      const context = (canvas as HTMLCanvasElement).getContext('2d')!;
      return pts.map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3)));
    },
    points,
  );
}

describe('zerocam-viewer --web in Chromium', () => {
  test('shows a live testsrc stream: known pixels match, frames change, and the overlay shows fps and latency', async (t) => {
    const endpoint = ipcEndpoint();
    await startSender(t, endpoint, 'cam1');
    const url = await startViewer(t, ['--connect', endpoint, '--topic', 'cam1']);
    const page = await openPage(t, url);
    await page.evaluate(() => {
      // Count what could leak: blob URLs made, and bitmaps decoded versus closed.
      const counts = { blobUrls: 0, bitmaps: 0, closed: 0 };
      (window as unknown as { leakCounts: typeof counts }).leakCounts = counts;
      const createObjectURL = URL.createObjectURL.bind(URL);
      URL.createObjectURL = (object: Blob | MediaSource) => (counts.blobUrls++, createObjectURL(object));
      const create = window.createImageBitmap.bind(window);
      window.createImageBitmap = ((...args: Parameters<typeof create>) => (counts.bitmaps++, create(...args))) as typeof create;
      const close = Object.getOwnPropertyDescriptor(ImageBitmap.prototype, 'close')!.value as (this: ImageBitmap) => void;
      ImageBitmap.prototype.close = function (this: ImageBitmap) {
        counts.closed++;
        close.call(this);
      };
    });

    await page.waitForSelector(tileSelector('cam1', 'live'));
    await displayedMoreThan(page, 'cam1', 3);
    assert.deepEqual(await page.$eval(`${tileSelector('cam1')} canvas.frame`, (c) => [(c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height]), [WIDTH, HEIGHT]);

    const layout = testPatternLayout(WIDTH, HEIGHT);
    const barPoints = TEST_PATTERN_BARS.map((_, bar): [number, number] => [Math.round((bar + 0.5) * (WIDTH / 8)), Math.round(layout.barsHeight / 2)]);
    const bars = await readCanvas(page, 'cam1', barPoints);
    bars.forEach((pixel, bar) => assert.ok(colorDistance(pixel, TEST_PATTERN_BARS[bar]!) <= 40, `bar ${bar}: ${pixel.join(',')}`));

    const band: Array<[number, number]> = Array.from({ length: WIDTH / 4 }, (_, i): [number, number] => [i * 4, layout.boxY + Math.floor(layout.box / 2)]);
    const before = await readCanvas(page, 'cam1', band);
    // The box sweeps the width and starts over, so a later frame can put it back where it was: wait
    // for a frame that shows it elsewhere. A canvas that never repaints fails here, by the page's timeout.
    await page.waitForFunction(
      ([selector, points, earlier]) => {
        const context = document.querySelector<HTMLCanvasElement>(selector)!.getContext('2d')!;
        return points.some(([x, y], i) => Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3)).join() !== earlier[i]!.join());
      },
      [`${tileSelector('cam1')} canvas.frame`, band, before] as const,
    );

    const overlay = await page.waitForFunction((selector) => {
      const tile = document.querySelector(selector) as HTMLElement;
      const { displayFps, receivedFps, latencyP50 } = tile.dataset;
      return Number(displayFps) > 0 && Number(receivedFps) > 0 && latencyP50 !== '' ? tile.querySelector('.metrics')!.textContent : false;
    }, tileSelector('cam1'));
    const text = String(await overlay.jsonValue());
    assert.match(text, /recv \d+\.\d fps/);
    assert.match(text, /shown \d+\.\d fps/);
    assert.match(text, /latency p50 \d+\.\d · p99 \d+\.\d ms/);
    assert.match(text, /320×240/);

    const counts = await page.evaluate(() => (window as unknown as { leakCounts: { blobUrls: number; bitmaps: number; closed: number } }).leakCounts);
    assert.equal(counts.blobUrls, 0, 'no blob URLs while streaming');
    assert.ok(counts.bitmaps > 5);
    assert.ok(counts.bitmaps - counts.closed <= 1, `every decoded bitmap but the one being painted is closed (${counts.bitmaps} made, ${counts.closed} closed)`);
    await screenshot(page, 'viewer-live');
  });

  test('stopping the sender shows "stalled" on the frame; restarting it brings "live" back', async (t) => {
    const endpoint = ipcEndpoint();
    const first = await startSender(t, endpoint, 'cam1');
    const page = await openPage(t, await startViewer(t, ['--connect', endpoint]));
    await page.waitForSelector(tileSelector('cam1', 'live'));
    await displayedMoreThan(page, 'cam1', 2);

    first.kill('SIGTERM');
    assert.equal((await first.exited).code, 0);
    await page.waitForSelector(tileSelector('cam1', 'stalled'));
    assert.match(await page.textContent(`${tileSelector('cam1')} .banner`) ?? '', /Stalled/);
    await screenshot(page, 'viewer-stalled');

    await startSender(t, endpoint, 'cam1');
    await page.waitForSelector(tileSelector('cam1', 'live'));
    assert.equal(await page.textContent(`${tileSelector('cam1')} .banner`), '');
  });

  test('shows two streams in a grid, one added with the connection form, and focuses one on click', async (t) => {
    const [a, b] = [ipcEndpoint(), ipcEndpoint()];
    await startSender(t, a, 'cam1');
    await startSender(t, b, 'cam2');
    // The form asks for a second ipc:// endpoint, which a page may only do with --allow-ipc.
    const page = await openPage(t, await startViewer(t, ['--connect', a, '--allow-ipc']));
    await page.waitForSelector(tileSelector('cam1', 'live'));

    assert.equal(await page.inputValue('#endpoint'), a, 'the form is pre-filled from the flags');
    await page.fill('#endpoint', b);
    await page.fill('#topics', 'cam2');
    await page.click('button[type="submit"]');
    await page.waitForSelector(tileSelector('cam2', 'live'));
    await displayedMoreThan(page, 'cam1', 2);
    await displayedMoreThan(page, 'cam2', 2);
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLElement>('.tile')].every(
        (tile) => Number(tile.dataset.displayFps) > 0 && Number(tile.dataset.receivedFps) > 0 && tile.dataset.latencyP50 !== '',
      ),
    );
    assert.equal(await page.locator('.tile:not(.placeholder)').count(), 2);
    assert.equal(await page.locator('#connections .chip').count(), 2);
    await screenshot(page, 'viewer-two-streams');

    await page.click(`${tileSelector('cam2')} canvas.frame`);
    assert.equal(await page.isVisible(tileSelector('cam1')), false, 'focusing one stream hides the others');
    assert.equal(await page.isVisible(tileSelector('cam2')), true);
    await page.click(`${tileSelector('cam2')} canvas.frame`);
    assert.equal(await page.isVisible(tileSelector('cam1')), true);
  });

  test('remembers the last connections: a reload without flags reconnects', async (t) => {
    const endpoint = ipcEndpoint();
    await startSender(t, endpoint, 'cam1');
    const page = await openPage(t, await startViewer(t, ['--allow-ipc']));
    await page.fill('#endpoint', endpoint);
    await page.click('button[type="submit"]');
    await page.waitForSelector(tileSelector('cam1', 'live'));
    await page.reload();
    await page.waitForSelector(tileSelector('cam1', 'live'));
    assert.equal(await page.inputValue('#endpoint'), endpoint);
  });

  test('a bad endpoint typed into the form gets a readable error on the page', async (t) => {
    const page = await openPage(t, await startViewer(t, []));
    await page.fill('#endpoint', 'tcp://nowhere');
    await page.click('button[type="submit"]');
    const error = await page.waitForSelector('#error:not(:empty)');
    assert.match((await error.textContent()) ?? '', /^Cannot connect to tcp:\/\/nowhere: .*tcp:\/\/HOST:PORT/);
  });

  test('the snapshot button saves the JPEG on screen', async (t) => {
    const endpoint = ipcEndpoint();
    await startSender(t, endpoint, 'cam1');
    const page = await openPage(t, await startViewer(t, ['--connect', endpoint]));
    await page.waitForSelector(tileSelector('cam1', 'live'));
    await displayedMoreThan(page, 'cam1', 1);
    await page.hover(tileSelector('cam1'));
    const [download] = await Promise.all([page.waitForEvent('download'), page.click(`${tileSelector('cam1')} button.snapshot`)]);
    assert.match(download.suggestedFilename(), /^cam1-\d+-\d+\.jpg$/);
    const path = await download.path();
    const { readFile } = await import('node:fs/promises');
    const bytes = await readFile(path);
    assert.deepEqual([bytes[0], bytes[1], bytes.at(-2), bytes.at(-1)], [0xff, 0xd8, 0xff, 0xd9]);
  });
});

describe('zerocam-viewer --web shutdown', () => {
  test('exits 0 on SIGTERM while a page is watching a stream', async (t) => {
    const endpoint = ipcEndpoint();
    await startSender(t, endpoint, 'cam1');
    const viewer = start(t, 'viewer', ['--web', '--port', '0', '--connect', endpoint]);
    const url = String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
    const page = await openPage(t, url);
    await page.waitForSelector(tileSelector('cam1', 'live'));
    viewer.kill('SIGTERM');
    assert.equal((await viewer.exited).code, 0, viewer.stderr.join('\n'));
  });
});

describe('zerocam-viewer without --web', () => {
  test('where the Electron binary is missing, says so in one line, suggests --web, and exits 2', async (t) => {
    const viewer = new CliProcess('viewer', ['--connect', 'tcp://127.0.0.1:5555'], { ELECTRON_OVERRIDE_DIST_PATH: '/nonexistent-electron' });
    t.after(() => viewer.stop());
    const { code } = await viewer.exited;
    const lines = viewer.stderr.filter(Boolean);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /^zerocam-viewer: the Electron binary is not installed.*--web/);
    assert.equal(code, 2);
  });
});
