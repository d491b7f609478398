import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DisplayStats } from '../electron/renderer/display-stats';

describe("the tile's display stats (electron/renderer/display-stats.ts)", () => {
  test('once a corrected latency is in the window, latencies across two clocks no longer mix into p50 or the sparkline', () => {
    const stats = new DisplayStats();
    // A camera 2 s ahead: before its offset is known, frames read about −2000 ms.
    for (let i = 0; i < 10; i++) stats.record(1000 + i * 33, -1995 + i, false);
    assert.deepEqual(stats.latency(1400), { p50: -1990, p99: -1986, corrected: false });
    for (let i = 0; i < 3; i++) stats.record(1400 + i * 33, 5 + i, true);
    assert.deepEqual(stats.latency(1500), { p50: 6, p99: 7, corrected: true });
    assert.deepEqual(
      stats.history(1500, 5000).map((s) => s.latencyMs),
      [5, 6, 7],
    );
    assert.equal(stats.displayed, 13);
  });
});
