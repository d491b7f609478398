import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CliProcess } from './helpers/cli-process';
import { openPage, screenshot } from './helpers/browser';
import { fakeClock, skipWithoutFaketime } from './helpers/fake-clock';
import { BRIGHTNESS_PLUGIN, joined, startWorkHub, startWorker } from './helpers/workers';

const BOX_COLOUR = [0x39, 0xff, 0x14];

describe('zerocam-viewer --web with --results', () => {
  test("draws each stream's newest result (boxes and labels) over its frame, and shows results/s, processing and age, on the camera's measured clock", async (t) => {
    if (skipWithoutFaketime(t)) return;
    const hub = await startWorkHub(t, []);
    startWorker(t, hub, 'bright', ['--processor', BRIGHTNESS_PLUGIN]);
    await joined(hub, 'bright');
    // The camera's clock runs 2 s ahead: an age taken straight from its capture times would read about −2000 ms.
    const sender = new CliProcess('sender', ['--connect', hub.senders, '--topic', 'cam1', '--width', '640', '--height', '360', '--fps', '15', '--no-stats'], fakeClock('+2s'));
    t.after(() => sender.stop());
    const receivers = String((await hub.process.waitForJson('stderr', (r) => r.event === 'forwarding')).receivers);
    const viewer = new CliProcess('viewer', ['--web', '--port', '0', '--connect', receivers, '--results', hub.results]);
    t.after(() => viewer.stop());
    const url = String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
    const page = await openPage(t, url);
    const tile = '.tile[data-stream$="/cam1"]';
    // A frame painted with a result, once the stats have counted results.
    await page.waitForSelector(`${tile}[data-result-boxes="1"]`);
    await page.waitForFunction((selector) => Number(document.querySelector<HTMLElement>(selector)?.dataset.resultsPerSecond ?? 0) > 0, tile);
    await page.waitForFunction((selector) => /results\/s/.test(document.querySelector(selector)?.textContent ?? ''), `${tile} .metrics`);
    const boxPixels = await page.$eval(
      `${tile} canvas.frame`,
      (canvas, colour) => {
        const { width, height } = canvas as HTMLCanvasElement;
        const data = (canvas as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, width, height).data;
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (Math.abs(data[i]! - colour[0]!) < 8 && Math.abs(data[i + 1]! - colour[1]!) < 8 && Math.abs(data[i + 2]! - colour[2]!) < 8) n++;
        return n;
      },
      BOX_COLOUR,
    );
    assert.ok(boxPixels > 200, `the box and its label are drawn (${boxPixels} pixels of its colour)`);
    await page.waitForSelector(`${tile}[data-results-age-corrected="true"][data-latency-corrected="true"]`);
    const { resultsAgeMs, resultsAgeUncertaintyMs, latencyP50, clockUncertaintyMs } = await page.$eval(tile, (node) => ({ ...(node as HTMLElement).dataset }));
    // The tile's own latency, once corrected, holds no frame from before (those read about −2000 ms).
    // Earlier frames were corrected by earlier, wider estimates, so the newest ± does not bound them all.
    assert.ok(Number(latencyP50) > -500, `tile latency p50 ${latencyP50} ms (clock ± ${clockUncertaintyMs} ms)`);
    const [ageMs, uncertaintyMs] = [Number(resultsAgeMs), Number(resultsAgeUncertaintyMs)];
    // Uncorrected, it would read about −2000 ms; corrected, capture to arrival is positive, within the clock's uncertainty.
    assert.ok(ageMs >= -uncertaintyMs - 0.1 && ageMs < 1000, `result age ${ageMs} ± ${uncertaintyMs} ms: capture to arrival, on one clock`);
    const metrics = await page.$eval(`${tile} .metrics`, (node) => node.textContent ?? '');
    assert.match(metrics, /brightness [\d.]+ results\/s · processing p50 [\d.]+ ms · age -?\d+ ms(?! \(uncorrected\))/);
    await screenshot(page, 'viewer-results');
  });

  test('a results endpoint typed into the form draws results too, and the page remembers it with the connection', async (t) => {
    const hub = await startWorkHub(t, []);
    startWorker(t, hub, 'bright', ['--processor', BRIGHTNESS_PLUGIN]);
    await joined(hub, 'bright');
    const sender = new CliProcess('sender', ['--connect', hub.senders, '--topic', 'cam2', '--width', '640', '--height', '360', '--fps', '15', '--no-stats']);
    t.after(() => sender.stop());
    const receivers = String((await hub.process.waitForJson('stderr', (r) => r.event === 'forwarding')).receivers);
    // The work hub's results endpoint is ipc://, which a page may name only with --allow-ipc.
    const viewer = new CliProcess('viewer', ['--web', '--port', '0', '--allow-ipc']);
    t.after(() => viewer.stop());
    const url = String((await viewer.waitForJson('stderr', (r) => r.event === 'serving')).url);
    const page = await openPage(t, url);
    await page.fill('#endpoint', receivers);
    await page.fill('#results', hub.results);
    await page.click('#connect-form button[type=submit]');
    await page.waitForSelector('.tile[data-stream$="/cam2"][data-result-boxes="1"]');
    const chip = (await page.textContent('#connections')) ?? '';
    assert.ok(chip.includes(`+ results ${hub.results}`), `the connection's chip names its results endpoint: ${chip}`);
    await screenshot(page, 'viewer-results-form');

    // A reload reconnects from what the page remembered, results included.
    await page.reload();
    await page.waitForSelector('.tile[data-stream$="/cam2"][data-result-boxes="1"]');
    assert.equal(await page.inputValue('#results'), hub.results);
  });
});
