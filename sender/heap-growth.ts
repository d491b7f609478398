import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets the old generation grow past what survived a full collection before it starts
 * the next one: 400 per cent, 5x, where V8 would choose 1.1-4x from its speed estimates.
 */
export const FRAME_HEAP_GROWING_PERCENT = 400;

let applied = false;

/**
 * Stops a process that allocates one fresh Buffer per frame (a JPEG from imencode, a passthrough
 * packet) from running a full mark-compact every second or so.
 *
 * V8 counts the backing store of every Buffer allocated since the last mark-compact against the old
 * generation's allocation limit, until a collection frees it. With a 12 MB heap and V8's own growth
 * factor that limit is about 9 MB away: 40-60 frames of 140-212 kB at 720p, after which a full
 * mark-compact runs, marking the whole heap to free a few dead Buffers (0.4-0.5 ms of CPU per
 * frame, measured with perf). Young Buffers are freed anyway by a scavenge, which V8 starts by
 * itself once 32 MB of them pile up and which costs a fraction of that. With the heap allowed to
 * grow 5x, the limit lies beyond that pile, and mark-compacts become rare.
 *
 * V8 reads --heap-growing-percent each time it sets the limit after a collection, so, unlike the
 * heap sizes it fixes at start-up, setting it here takes effect. Idempotent.
 */
export function allowHeapGrowthForFrameBuffers(): void {
  if (applied) return;
  applied = true;
  setFlagsFromString(`--heap-growing-percent=${FRAME_HEAP_GROWING_PERCENT}`);
}
