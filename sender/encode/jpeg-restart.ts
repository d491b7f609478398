/**
 * Joins JPEGs of horizontal strips of one picture into one baseline JPEG with restart markers, so a
 * frame can be encoded on every core at once and still decode as a single, standard image.
 *
 * This works because the strips share everything a decoder carries across a restart marker: the
 * same quantisation tables (same quality), the same Huffman tables (the standard ones: optimised
 * coding off) and the same sampling. At an RSTn marker a decoder resets DC prediction and starts
 * the next MCU row, which is exactly where the next strip's own entropy-coded data begins.
 */
import { ZerocamError } from '../../common/errors';
import { isStartOfFrame, JPEG_MARKER, jpegHeaderSegments, readJpegFrameInfo, type JpegSegment } from '../../common/wire/jpeg-structure';

/** Strips that cannot be joined: mismatched tables, sizes or sampling, or an interval past DRI's 16 bits. */
export class JpegJoinError extends ZerocamError {
  override name = 'JpegJoinError';
}

/** DRI stores the restart interval (in MCUs) in 16 bits. */
export const MAX_RESTART_INTERVAL = 0xffff;

export interface JpegStrip {
  jpeg: Buffer;
  /** The header segments up to and including SOS (from jpegHeaderSegments). */
  segments: JpegSegment[];
  width: number;
  height: number;
}

/** MCU width and height in pixels, from the SOF's largest sampling factors (16x16 for 4:2:0). */
export function mcuSize(jpeg: Buffer, segments: JpegSegment[] = jpegHeaderSegments(jpeg)): { width: number; height: number } {
  const sof = segments.find((s) => isStartOfFrame(s.marker));
  if (!sof) throw new JpegJoinError('strip has no SOF segment');
  const components = jpeg[sof.offset + 9]!;
  let h = 1;
  let v = 1;
  for (let i = 0; i < components; i++) {
    const sampling = jpeg[sof.offset + 11 + i * 3]!;
    h = Math.max(h, sampling >> 4);
    v = Math.max(v, sampling & 0x0f);
  }
  // A single-component scan is not interleaved: its MCU is one 8x8 block whatever the factors say.
  return components === 1 ? { width: 8, height: 8 } : { width: 8 * h, height: 8 * v };
}

/** The MCUs in one strip of `stripHeight` rows; throws JpegJoinError if DRI cannot hold it. */
export function restartIntervalFor(width: number, stripHeight: number, mcu: { width: number; height: number }): number {
  const interval = Math.ceil(width / mcu.width) * Math.ceil(stripHeight / mcu.height);
  if (interval > MAX_RESTART_INTERVAL) {
    throw new JpegJoinError(`a ${width}x${stripHeight} strip holds ${interval} MCUs, more than a restart interval can count (${MAX_RESTART_INTERVAL}); use more strips`);
  }
  return interval;
}

function describeStrip(jpeg: Buffer): JpegStrip {
  const segments = jpegHeaderSegments(jpeg);
  const info = readJpegFrameInfo(jpeg);
  if (info.sofMarker !== JPEG_MARKER.SOF0) throw new JpegJoinError(`strips must be baseline JPEG (SOF0), not SOF marker FF ${info.sofMarker.toString(16).toUpperCase()}`);
  if (segments.some((s) => s.marker === JPEG_MARKER.DRI)) throw new JpegJoinError('strips must not carry restart markers of their own');
  if (jpeg[jpeg.length - 2] !== 0xff || jpeg[jpeg.length - 1] !== JPEG_MARKER.EOI) throw new JpegJoinError('strip does not end with EOI');
  // Baseline allows one scan per component; a first scan without every component means more scans follow, which the join would garble.
  const sos = segments[segments.length - 1]!;
  const sof = segments.find((s) => isStartOfFrame(s.marker))!;
  if (jpeg[sos.offset + 4] !== jpeg[sof.offset + 9]) throw new JpegJoinError('strips must be a single interleaved scan of every component');
  return { jpeg, segments, width: info.width, height: info.height };
}

/** The bytes of every table segment (DQT, DHT) and the SOF's component specification: what strips must share. */
function tablesOf(strip: JpegStrip): Buffer {
  const parts: Buffer[] = [];
  for (const s of strip.segments) {
    if (s.marker === JPEG_MARKER.DQT || s.marker === JPEG_MARKER.DHT) parts.push(strip.jpeg.subarray(s.offset, s.offset + s.length));
    // SOF after its precision, height and width: component ids, sampling factors and table choices.
    if (isStartOfFrame(s.marker)) parts.push(strip.jpeg.subarray(s.offset + 9, s.offset + s.length));
    if (s.marker === JPEG_MARKER.SOS) parts.push(strip.jpeg.subarray(s.offset, s.offset + s.length));
  }
  return Buffer.concat(parts);
}

/**
 * One JPEG from strips given top to bottom. Every strip but the last must be the same height, a
 * multiple of the MCU height; all must share width, tables and sampling. One strip is returned as
 * it is. Throws JpegJoinError when that does not hold, or when a strip has too many MCUs for DRI.
 */
export function joinJpegStrips(jpegs: readonly Buffer[]): Buffer {
  if (jpegs.length === 0) throw new JpegJoinError('no strips to join');
  if (jpegs.length === 1) return jpegs[0]!;
  const strips = jpegs.map(describeStrip);
  const first = strips[0]!;
  const mcu = mcuSize(first.jpeg, first.segments);
  if (first.height % mcu.height !== 0) throw new JpegJoinError(`strip height ${first.height} is not a multiple of the MCU height ${mcu.height}`);
  const interval = restartIntervalFor(first.width, first.height, mcu);
  const tables = tablesOf(first);
  let height = 0;
  strips.forEach((strip, i) => {
    if (strip.width !== first.width) throw new JpegJoinError(`strip ${i} is ${strip.width} wide, strip 0 is ${first.width}`);
    const last = i === strips.length - 1;
    if (!last && strip.height !== first.height) throw new JpegJoinError(`strip ${i} is ${strip.height} high; every strip but the last must be ${first.height}`);
    if (last && strip.height > first.height) throw new JpegJoinError(`the last strip is ${strip.height} high, more than the others (${first.height})`);
    if (i > 0 && !tablesOf(strip).equals(tables)) throw new JpegJoinError(`strip ${i} has other tables or sampling than strip 0 (encode every strip with the same quality and optimised coding off)`);
    height += strip.height;
  });
  if (height > 0xffff) throw new JpegJoinError(`joined height ${height} exceeds JPEG's 65535`);

  const sos = first.segments[first.segments.length - 1]!;
  const sof = first.segments.find((s) => isStartOfFrame(s.marker))!;
  const header = Buffer.from(first.jpeg.subarray(0, sos.offset));
  header.writeUInt16BE(height, sof.offset + 5);
  const dri = Buffer.from([0xff, JPEG_MARKER.DRI, 0x00, 0x04, interval >> 8, interval & 0xff]);
  const parts: Buffer[] = [header, dri, first.jpeg.subarray(sos.offset, sos.offset + sos.length)];
  strips.forEach((strip, i) => {
    const scan = strip.segments[strip.segments.length - 1]!;
    if (i > 0) parts.push(Buffer.from([0xff, JPEG_MARKER.RST0 + ((i - 1) % 8)]));
    // Entropy-coded data runs from after the SOS header to the EOI marker.
    parts.push(strip.jpeg.subarray(scan.offset + scan.length, strip.jpeg.length - 2));
  });
  parts.push(Buffer.from([0xff, JPEG_MARKER.EOI]));
  return Buffer.concat(parts);
}
