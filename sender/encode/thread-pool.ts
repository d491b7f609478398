/**
 * Sizes libuv's thread pool for a sender, unless UV_THREADPOOL_SIZE is already set. Must run
 * before anything first uses the pool (libuv reads the variable once, when it starts the pool).
 *
 * Unthrottled, the pool runs `encodeConcurrency` sharp encodes and one OpenCV read at once, and
 * a file system call (the --stats-json write) must never queue behind them: so encodes + 2.
 * At a camera's pace only one encode and one read are ever busy, and idle threads cost nothing.
 */
export function sizeThreadPool(encodeConcurrency: number): number {
  process.env.UV_THREADPOOL_SIZE ??= String(threadPoolSizeFor(encodeConcurrency));
  return Number(process.env.UV_THREADPOOL_SIZE);
}

/** libuv's own default is 4; never fewer. */
export function threadPoolSizeFor(encodeConcurrency: number): number {
  return Math.max(4, encodeConcurrency + 2);
}
