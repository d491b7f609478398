import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Pacer } from '../sender/pacer';

describe('Pacer', () => {
  test('releases the first frame at once and waits for the next; fps 0 never waits', async () => {
    const paced = new Pacer(1000);
    const signal = new AbortController().signal;
    assert.equal(await paced.wait(signal), true);
    assert.equal(await paced.wait(signal), true);
    const unpaced = new Pacer(0);
    for (let i = 0; i < 3; i++) assert.equal(await unpaced.wait(signal), true);
  });

  test('an abort ends a wait in progress with false, and every later wait at once', async () => {
    // 0.01 fps: the second frame would be due in 100 s, so only the abort can end its wait.
    const pacer = new Pacer(0.01);
    const stop = new AbortController();
    assert.equal(await pacer.wait(stop.signal), true);
    const waiting = pacer.wait(stop.signal);
    stop.abort();
    assert.equal(await waiting, false);
    assert.equal(await pacer.wait(stop.signal), false);
  });

  test('a signal that aborts after its run does not end the next run\'s wait', async () => {
    const pacer = new Pacer(20);
    const first = new AbortController();
    assert.equal(await pacer.wait(first.signal), true);
    // A wait in progress: the first signal now has the pacer's listener.
    assert.equal(await pacer.wait(first.signal), true);
    const second = new AbortController();
    const waiting = pacer.wait(second.signal);
    first.abort();
    // An abort listener runs inside abort(): had it ended the wait, the promise would settle before the next turn of the loop.
    const state = await Promise.race([waiting.then(() => 'settled'), new Promise((resolve) => setImmediate(() => resolve('pending')))]);
    assert.equal(state, 'pending');
    second.abort();
    assert.equal(await waiting, false);
  });
});
