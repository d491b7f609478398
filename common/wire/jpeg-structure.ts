/**
 * Reads a JPEG's header segments without decoding it: the frame size from SOF, whether it is
 * progressive, and whether it carries its own Huffman tables. zerocam checks frames against their
 * headers, takes MJPEG cameras' sizes from SOF and repairs their missing DHT from this, so the
 * marker walk lives here once.
 */
import { ZerocamError } from '../errors';

/** A JPEG whose marker structure is broken before its first scan. */
export class JpegStructureError extends ZerocamError {
  override name = 'JpegStructureError';
}

export const JPEG_MARKER = {
  SOI: 0xd8,
  EOI: 0xd9,
  SOS: 0xda,
  DHT: 0xc4,
  DQT: 0xdb,
  DRI: 0xdd,
  SOF0: 0xc0,
  RST0: 0xd0,
  APP0: 0xe0,
} as const;

/** One marker segment before the scan: `offset` points at its FF, `length` counts the marker and its payload. */
export interface JpegSegment {
  marker: number;
  offset: number;
  length: number;
}

export interface JpegFrameInfo {
  width: number;
  height: number;
  /** SOF2, SOF6, SOF10, SOF14: the image arrives in several scans. */
  progressive: boolean;
  /** The SOF marker byte (0xC0 baseline, 0xC1 extended, 0xC2 progressive, ...). */
  sofMarker: number;
  components: number;
  /** False for the MJPEG frames many USB cameras send, which rely on the standard tables of Annex K. */
  hasHuffmanTables: boolean;
  /** Offset of the SOS marker: where the entropy-coded data begins, after its header. */
  scanOffset: number;
}

/** Markers that stand alone, with no length field. */
function isStandalone(marker: number): boolean {
  return marker === JPEG_MARKER.SOI || marker === JPEG_MARKER.EOI || marker === 0x01 || (marker >= JPEG_MARKER.RST0 && marker <= 0xd7);
}

/** SOF0-SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
export function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** The segments from just after SOI up to and including SOS. Throws JpegStructureError if they overrun the buffer. */
export function jpegHeaderSegments(jpeg: Uint8Array): JpegSegment[] {
  if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== JPEG_MARKER.SOI) throw new JpegStructureError('does not start with the SOI marker FF D8');
  const segments: JpegSegment[] = [];
  let pos = 2;
  for (;;) {
    if (pos >= jpeg.length || jpeg[pos] !== 0xff) throw new JpegStructureError(`expected a marker at byte ${pos}`);
    // Any number of FF fill bytes may precede a marker.
    let markerPos = pos;
    while (markerPos + 1 < jpeg.length && jpeg[markerPos + 1] === 0xff) markerPos++;
    if (markerPos + 1 >= jpeg.length) throw new JpegStructureError('ends inside a marker');
    const marker = jpeg[markerPos + 1]!;
    if (isStandalone(marker)) {
      if (marker === JPEG_MARKER.EOI || marker === JPEG_MARKER.SOI) throw new JpegStructureError(`unexpected marker FF ${hex(marker)} before the first scan`);
      segments.push({ marker, offset: markerPos, length: 2 });
      pos = markerPos + 2;
      continue;
    }
    if (markerPos + 4 > jpeg.length) throw new JpegStructureError('ends inside a segment length');
    const payload = (jpeg[markerPos + 2]! << 8) | jpeg[markerPos + 3]!;
    if (payload < 2 || markerPos + 2 + payload > jpeg.length) throw new JpegStructureError(`segment FF ${hex(marker)} at byte ${markerPos} overruns the data`);
    segments.push({ marker, offset: markerPos, length: 2 + payload });
    if (marker === JPEG_MARKER.SOS) return segments;
    pos = markerPos + 2 + payload;
  }
}

/** Size and kind of a JPEG, from its headers alone (microseconds, whatever the resolution). */
export function readJpegFrameInfo(jpeg: Uint8Array): JpegFrameInfo {
  const segments = jpegHeaderSegments(jpeg);
  const sof = segments.find((s) => isStartOfFrame(s.marker));
  if (!sof) throw new JpegStructureError('no SOF (frame header) segment before the first scan');
  if (sof.length < 10) throw new JpegStructureError('SOF segment too short');
  const at = sof.offset + 4;
  const height = (jpeg[at + 1]! << 8) | jpeg[at + 2]!;
  const width = (jpeg[at + 3]! << 8) | jpeg[at + 4]!;
  // A height of 0 defers it to a DNL marker after the scan: legal, but no camera or encoder zerocam meets uses it.
  if (width === 0 || height === 0) throw new JpegStructureError(`SOF gives an empty frame size ${width}x${height}`);
  return {
    width,
    height,
    progressive: sof.marker === 0xc2 || sof.marker === 0xc6 || sof.marker === 0xca || sof.marker === 0xce,
    sofMarker: sof.marker,
    components: jpeg[at + 5]!,
    hasHuffmanTables: segments.some((s) => s.marker === JPEG_MARKER.DHT),
    scanOffset: segments[segments.length - 1]!.offset,
  };
}

function hex(byte: number): string {
  return byte.toString(16).toUpperCase().padStart(2, '0');
}
