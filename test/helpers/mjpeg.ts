import assert from 'node:assert/strict';
import { MJPEG_BOUNDARY } from '../../common/web/mjpeg-stream';

/** Reads an MJPEG response into its parts until `count` JPEGs have arrived. */
export async function readMjpegParts(body: ReadableStream<Uint8Array>, count: number): Promise<Buffer[]> {
  const reader = body.getReader();
  let pending = Buffer.alloc(0);
  const parts: Buffer[] = [];
  const delimiter = Buffer.from(`--${MJPEG_BOUNDARY}\r\n`);
  try {
    while (parts.length < count) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended after ${parts.length} parts`);
      pending = Buffer.concat([pending, value]);
      for (;;) {
        if (pending.length < delimiter.length) break;
        assert.deepEqual(pending.subarray(0, delimiter.length), delimiter, 'each part starts with the boundary line');
        const headersEnd = pending.indexOf('\r\n\r\n');
        if (headersEnd < 0) break;
        const headers = pending.subarray(delimiter.length, headersEnd).toString('latin1').split('\r\n');
        assert.ok(headers.includes('Content-Type: image/jpeg'), headers.join(' | '));
        const length = Number(/^Content-Length: (\d+)$/m.exec(headers.join('\n'))?.[1]);
        assert.ok(length > 0, headers.join(' | '));
        const start = headersEnd + 4;
        if (pending.length < start + length + 2) break;
        parts.push(pending.subarray(start, start + length));
        assert.equal(pending.subarray(start + length, start + length + 2).toString('latin1'), '\r\n');
        pending = pending.subarray(start + length + 2);
      }
    }
  } finally {
    await reader.cancel();
  }
  return parts.slice(0, count);
}
