import type { Frame } from '../wire/protocol';

/**
 * libzmq reads each connection in 8 kB batches (ZMQ_IN_BATCH_SIZE) and receives a message that fits
 * in the batch in place; zeromq.js hands a part over 128 bytes out without copying. So a small JPEG's
 * Buffer keeps its whole batch arena alive (8 kB, and libzmq's reference counters for it, about
 * 16 kB), which no Buffer property shows: its byteLength and its ArrayBuffer's are both the JPEG's.
 * Parts this size or smaller are copied before they are kept for long; bigger ones had their own
 * allocation of their exact size.
 */
export const SHARED_ARENA_BYTES = 8192;

/** `buffer`, or an exact-size copy of it (outside Node's shared pool) if it may pin a receive arena. */
export function ownCopy(buffer: Buffer): Buffer {
  if (buffer.length > SHARED_ARENA_BYTES) return buffer;
  const copy = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(copy);
  return copy;
}

/** A frame and its message parts, to keep (a last-frame cache): the JPEG is copied if it is small. */
export function compactFrame(frame: Frame, parts: readonly Buffer[] | undefined): { frame: Frame; parts: readonly Buffer[] | undefined } {
  const jpeg = ownCopy(frame.jpeg);
  if (jpeg === frame.jpeg) return { frame, parts };
  const kept = { ...frame, jpeg };
  // The JPEG is the last part (docs/protocol.md); topic and header parts are under 128 bytes, which zeromq.js copies.
  return { frame: kept, parts: parts?.map((part) => (part === frame.jpeg ? jpeg : part)) };
}
