import type { Mat } from '@u4/opencv4nodejs';
import { joinJpegStrips } from './jpeg-restart';
import { elapsedUs, scaledBox, type EncodedFrame, type FrameEncoder, type JpegSettings } from './frame-encoder';
import { loadOpenCv, type OpenCv } from '../../common/opencv-loader';
import type { RawFrame } from '../sources/frame-source';
import { planStrips } from './strip-plan';

/**
 * Encodes packed BGR frames to baseline JPEG with cv.imencode (libjpeg-turbo) on libuv's thread
 * pool, whole or as parallel strips. libjpeg-turbo reads BGR itself, so a captured frame needs no
 * colour conversion; a strip is a Mat region over the frame's own buffer, so nothing is copied.
 * imencode's defaults are what joining strips needs: baseline, the standard Huffman tables (no
 * optimised coding) and 4:2:0; the join checks that every strip agrees (sender/encode/jpeg-restart.ts).
 * It reads `settings` afresh for every frame, like SharpJpegEncoder.
 */
export class OpenCvJpegEncoder implements FrameEncoder {
  readonly order = 'bgr';
  private readonly cv: OpenCv;
  /**
   * The buffers of frames being encoded. A Mat over a Buffer does not keep the Buffer alive, and
   * libjpeg reading memory the garbage collector has freed is a crash, not an error: this holds them.
   */
  private readonly reading = new Set<{ pixels: Buffer }>();

  constructor(private readonly settings: JpegSettings) {
    this.cv = loadOpenCv();
  }

  async encode(frame: RawFrame, strips = 1): Promise<EncodedFrame> {
    const started = performance.now();
    const { cv } = this;
    const { quality } = this.settings;
    const flags = [cv.IMWRITE_JPEG_QUALITY, quality, cv.IMWRITE_JPEG_OPTIMIZE, this.settings.optimiseCoding ? 1 : 0];
    // A Mat header over the frame's buffer: no copy.
    const frameMat = new cv.Mat(frame.height, frame.width, cv.CV_8UC3, frame.pixels);
    const owned: Mat[] = [frameMat];
    const hold = { pixels: frame.pixels };
    this.reading.add(hold);
    try {
      let image = frameMat;
      if (frame.order === 'rgb') owned.push((image = await image.cvtColorAsync(cv.COLOR_RGB2BGR)));
      const box = scaledBox(frame, this.settings.resize, this.settings.scale ?? 1);
      if (box) {
        const fit = Math.min(box.width / frame.width, box.height / frame.height);
        const size = new cv.Size(Math.max(1, Math.round(frame.width * fit)), Math.max(1, Math.round(frame.height * fit)));
        owned.push((image = await image.resizeAsync(size, 0, 0, fit < 1 ? cv.INTER_AREA : cv.INTER_LINEAR)));
      }
      const { cols: width, rows: height } = image;
      const plan = planStrips(width, height, strips);
      const parts = await Promise.all(
        plan.map(({ top, height: rows }) => {
          if (plan.length === 1) return cv.imencodeAsync('.jpg', image, flags);
          // A region is a header over the same pixels; released with the rest, not left to the collector.
          const region = image.getRegion(new cv.Rect(0, top, width, rows));
          owned.push(region);
          return cv.imencodeAsync('.jpg', region, flags);
        }),
      );
      return { jpeg: joinJpegStrips(parts), width, height, encodeUs: elapsedUs(started), strips: plan.length, quality };
    } finally {
      for (const mat of owned) mat.release();
      this.reading.delete(hold);
    }
  }
}
