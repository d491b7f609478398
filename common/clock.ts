/** performance.timeOrigin, moved whenever the wall clock is seen to step (NTP, a clock set at boot). */
let originMs = performance.timeOrigin;

/**
 * Wall-clock time in microseconds since the Unix epoch, with sub-millisecond resolution.
 * Latency is measured across processes (and hosts), so it must be wall-clock based; across hosts
 * the offset between the clocks is measured on the wire (docs/protocol.md, "Clock offsets").
 *
 * The monotonic clock gives the resolution; the wall clock (Date.now(), whole ms) is checked on
 * every call, and when the two disagree by more than 2 ms the wall clock has stepped (or slewed
 * that far): the origin follows it, so a running process never keeps a clock its host abandoned.
 */
export function nowMicros(): number {
  const monotonicMs = performance.now();
  let ms = originMs + monotonicMs;
  const wallMs = Date.now();
  if (Math.abs(wallMs - ms) > 2) {
    originMs = wallMs - monotonicMs;
    ms = wallMs;
  }
  return Math.round(ms * 1000);
}
