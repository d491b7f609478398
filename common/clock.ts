/**
 * Wall-clock time in microseconds since the Unix epoch, with sub-millisecond resolution.
 * Latency is measured across processes (and hosts), so it must be wall-clock based;
 * across hosts it is only as good as their clock sync (NTP/PTP).
 */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}
