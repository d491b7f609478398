/**
 * Where the monotonic clock's zero sits on the wall clock, ms, known within [originLowMs, originHighMs]:
 * performance.timeOrigin at start, moved whenever the wall clock is seen to step (NTP, a clock set at boot).
 */
let originLowMs = performance.timeOrigin;
let originHighMs = performance.timeOrigin;

/**
 * Wall-clock time in microseconds since the Unix epoch, with sub-millisecond resolution.
 * Latency is measured across processes (and hosts), so it must be wall-clock based; across hosts
 * the offset between the clocks is measured on the wire (docs/protocol.md, "Clock offsets").
 *
 * The monotonic clock gives the resolution; the wall clock (Date.now(), whole ms) is read on every
 * call. Each reading puts the origin within a 1 ms interval; readings narrow it down to well under
 * a millisecond. A reading outside the interval means the wall clock stepped (or slewed): the
 * origin starts afresh from it, so a running process never keeps a clock its host abandoned.
 */
export function nowMicros(): number {
  const monotonicMs = performance.now();
  const wallMs = Date.now();
  const low = wallMs - monotonicMs;
  const high = low + 1;
  if (low > originHighMs || high < originLowMs) {
    // The wall clock stepped, or slewed out of the interval: start afresh from this reading.
    originLowMs = low;
    originHighMs = high;
  } else {
    originLowMs = Math.max(originLowMs, low);
    originHighMs = Math.min(originHighMs, high);
  }
  return Math.round(((originLowMs + originHighMs) / 2 + monotonicMs) * 1000);
}
