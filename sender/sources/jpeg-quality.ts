/**
 * Estimates the IJG quality (1-100) a JPEG was encoded at from its luminance quantisation table,
 * for frames zerocam sends without encoding them (--passthrough): the frame header carries a
 * quality, and a camera does not say which it used.
 */
import { JPEG_MARKER, jpegHeaderSegments } from '../../common/wire/jpeg-structure';

/** Annex K.1, the luminance table libjpeg scales by quality. */
const STANDARD_LUMINANCE = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109,
  103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const STANDARD_SUM = STANDARD_LUMINANCE.reduce((a, b) => a + b, 0);

/**
 * libjpeg scales the table by 5000/q percent below quality 50 and by 200-2q above; this inverts
 * that on the table's sum. Encoders with other tables get the nearest IJG quality. 0 when the
 * JPEG has no 8-bit table 0 (unknown).
 */
export function estimateJpegQuality(jpeg: Uint8Array): number {
  for (const segment of jpegHeaderSegments(jpeg)) {
    if (segment.marker !== JPEG_MARKER.DQT) continue;
    let at = segment.offset + 4;
    const end = segment.offset + segment.length;
    while (at < end) {
      const precisionAndId = jpeg[at]!;
      const bytes = (precisionAndId >> 4 === 0 ? 1 : 2) * 64;
      if ((precisionAndId & 0x0f) === 0 && precisionAndId >> 4 === 0 && at + 1 + bytes <= end) {
        let sum = 0;
        for (let i = 1; i <= 64; i++) sum += jpeg[at + i]!;
        const scale = (sum * 100) / STANDARD_SUM;
        const quality = scale <= 100 ? (200 - scale) / 2 : 5000 / scale;
        return Math.min(100, Math.max(1, Math.round(quality)));
      }
      at += 1 + bytes;
    }
  }
  return 0;
}
