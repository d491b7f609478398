import type { ServerResponse } from 'node:http';
import { NewestWaits } from '../newest-waits';
import { BASE_HEADERS } from './http-server';

/** The boundary mjpg-streamer uses; clients read it from Content-Type, a few old ones expect this very one. */
export const MJPEG_BOUNDARY = 'boundarydonotcross';
export const MJPEG_CONTENT_TYPE = `multipart/x-mixed-replace;boundary=${MJPEG_BOUNDARY}`;

/**
 * One HTTP client of /stream/TOPIC.mjpeg, framed as mjpg-streamer and µStreamer frame it (what VLC,
 * ffmpeg, browsers and Home Assistant read): per part a boundary line, Content-Type and
 * Content-Length headers, a blank line, the JPEG, CRLF.
 *
 * Newest frame only: while the socket has not drained, an arriving frame replaces the waiting one
 * (counted as skipped), so a slow client falls behind by frames, never by a backlog.
 */
export class MjpegClient {
  sent = 0;
  /** In flight: a frame the socket has not drained yet. */
  private readonly flow = new NewestWaits<Buffer>();
  private closed = false;

  constructor(private readonly res: ServerResponse) {
    res.writeHead(200, {
      ...BASE_HEADERS,
      'Content-Type': MJPEG_CONTENT_TYPE,
      Connection: 'close',
      Pragma: 'no-cache',
    });
    res.on('drain', () => {
      const next = this.flow.finish();
      if (next && !this.closed) this.write(next);
    });
    res.on('close', () => (this.closed = true));
  }

  get skipped(): number {
    return this.flow.skipped;
  }

  /** Offers the newest JPEG; it is written at once if the client keeps up, else it waits (replacing an older one). */
  push(jpeg: Buffer): void {
    if (this.closed) return;
    const now = this.flow.offer(jpeg);
    if (now) this.write(now);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes held for this client: what the socket has not taken yet, plus the waiting frame. */
  get bufferedBytes(): number {
    return this.res.writableLength + (this.flow.waiting?.length ?? 0);
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.res.destroy();
  }

  private write(jpeg: Buffer): void {
    this.res.cork();
    this.res.write(`--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`);
    this.res.write(jpeg);
    this.res.write('\r\n');
    process.nextTick(() => this.res.uncork());
    this.sent++;
    // Taken by the socket's buffer at once: nothing to wait for. Otherwise 'drain' finishes it.
    if (!this.res.writableNeedDrain) this.flow.finish();
  }
}
