/**
 * The few Matroska elements a segment of MJPEG frames needs (https://www.matroska.org/technical/elements.html).
 *
 * Why hand-written rather than ffmpeg: a frame may be indexed (and acknowledged) only once its
 * bytes are on disk, so the recorder must know exactly which bytes of the file hold which frame and
 * when they were fsynced. ffmpeg's Matroska muxer holds a whole cluster in memory before it writes
 * it and says nothing per packet through a pipe, so the index would have to guess. Writing the
 * container here is about 100 lines: one EBML header, a Segment of unknown size (what live
 * streams use, so a file cut short by a crash is still a valid prefix), Info, one MJPEG track, and
 * then one Cluster per frame holding one SimpleBlock with the JPEG's bytes unchanged. ffmpeg, ffprobe,
 * VLC and browsers read it; the tests check every file with ffprobe and ffmpeg.
 */

/** Timestamps count microseconds (TimestampScale in ns), so presentation times are exact, not rounded to ms. */
export const TIMESTAMP_SCALE_NS = 1000;
/** The Segment's size as written while it is open: "unknown", valid for a file that ends anywhere after a whole cluster. */
const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** Matroska's DateUTC counts ns from 2001-01-01T00:00:00Z. */
const MATROSKA_EPOCH_US = Date.UTC(2001, 0, 1) * 1000;

const ID = {
  ebml: 0x1a45dfa3,
  ebmlVersion: 0x4286,
  ebmlReadVersion: 0x42f7,
  ebmlMaxIdLength: 0x42f2,
  ebmlMaxSizeLength: 0x42f3,
  docType: 0x4282,
  docTypeVersion: 0x4287,
  docTypeReadVersion: 0x4285,
  segment: 0x18538067,
  info: 0x1549a966,
  timestampScale: 0x2ad7b1,
  duration: 0x4489,
  dateUtc: 0x4461,
  muxingApp: 0x4d80,
  writingApp: 0x5741,
  title: 0x7ba9,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  trackNumber: 0xd7,
  trackUid: 0x73c5,
  trackType: 0x83,
  flagLacing: 0x9c,
  codecId: 0x86,
  video: 0xe0,
  pixelWidth: 0xb0,
  pixelHeight: 0xba,
  cluster: 0x1f43b675,
  timestamp: 0xe7,
  simpleBlock: 0xa3,
} as const;

function idBytes(id: number): Buffer {
  const length = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
  const buf = Buffer.alloc(length);
  buf.writeUIntBE(id, 0, length);
  return buf;
}

/** An element data size as an 8-byte EBML variable-size integer (simple, and patchable in place). */
function sizeBytes(size: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(size) | (1n << 56n));
  return buf;
}

function element(id: number, ...data: Buffer[]): Buffer {
  const body = Buffer.concat(data);
  return Buffer.concat([idBytes(id), sizeBytes(body.length), body]);
}

function uint(id: number, value: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(BigInt(value));
  return element(id, buf);
}

function int(id: number, value: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeBigInt64BE(BigInt(value));
  return element(id, buf);
}

function float(id: number, value: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeDoubleBE(value);
  return element(id, buf);
}

function text(id: number, value: string): Buffer {
  return element(id, Buffer.from(value, 'utf8'));
}

export interface SegmentHead {
  /** The file's bytes up to its first cluster. */
  bytes: Buffer;
  /** Where the Segment's size is, to be patched when the file is finished. */
  segmentSizeOffset: number;
  /** Where the Segment's data starts (its size counts from here). */
  segmentDataOffset: number;
  /** Where Duration's 8-byte float value is, to be patched when the file is finished. */
  durationValueOffset: number;
}

/** The EBML header, the open Segment, Info and Tracks of a file of width x height MJPEG frames starting at startUs (epoch µs). */
export function segmentHead(width: number, height: number, startUs: number, title: string): SegmentHead {
  const ebml = element(
    ID.ebml,
    uint(ID.ebmlVersion, 1),
    uint(ID.ebmlReadVersion, 1),
    uint(ID.ebmlMaxIdLength, 4),
    uint(ID.ebmlMaxSizeLength, 8),
    text(ID.docType, 'matroska'),
    uint(ID.docTypeVersion, 4),
    uint(ID.docTypeReadVersion, 2),
  );
  const duration = float(ID.duration, 0);
  const infoHead = Buffer.concat([uint(ID.timestampScale, TIMESTAMP_SCALE_NS), int(ID.dateUtc, (startUs - MATROSKA_EPOCH_US) * 1000)]);
  const info = element(ID.info, infoHead, duration, text(ID.muxingApp, 'zerocam'), text(ID.writingApp, 'zerocam'), text(ID.title, title));
  const track = element(
    ID.trackEntry,
    uint(ID.trackNumber, 1),
    uint(ID.trackUid, 1),
    uint(ID.trackType, 1),
    uint(ID.flagLacing, 0),
    text(ID.codecId, 'V_MJPEG'),
    element(ID.video, uint(ID.pixelWidth, width), uint(ID.pixelHeight, height)),
  );
  const segmentStart = Buffer.concat([idBytes(ID.segment), UNKNOWN_SIZE]);
  const segmentDataOffset = ebml.length + segmentStart.length;
  // Info's id (4) and size (8), then its fixed-size children before Duration, then Duration's id (2) and size (8).
  const durationValueOffset = segmentDataOffset + 12 + infoHead.length + 10;
  return {
    bytes: Buffer.concat([ebml, segmentStart, info, element(ID.tracks, track)]),
    segmentSizeOffset: ebml.length + 4,
    segmentDataOffset,
    durationValueOffset,
  };
}

/** A Cluster at `timestampUs` from the segment's start holding one keyframe SimpleBlock: the head, then the JPEG. */
export function clusterHead(timestampUs: number, jpegLength: number): Buffer {
  const timestamp = uint(ID.timestamp, timestampUs);
  // SimpleBlock: track number 1 as a 1-byte vint, a relative timestamp of 0, flags: keyframe.
  const blockHeader = Buffer.from([0x81, 0x00, 0x00, 0x80]);
  const blockHead = Buffer.concat([idBytes(ID.simpleBlock), sizeBytes(blockHeader.length + jpegLength), blockHeader]);
  const clusterSize = timestamp.length + blockHead.length + jpegLength;
  return Buffer.concat([idBytes(ID.cluster), sizeBytes(clusterSize), timestamp, blockHead]);
}

/** The value to patch at segmentSizeOffset once the file is finished. */
export function segmentSize(fileBytes: number, segmentDataOffset: number): Buffer {
  return sizeBytes(fileBytes - segmentDataOffset);
}

/** The value to patch at durationValueOffset: the duration in TimestampScale units. */
export function durationValue(durationUs: number): Buffer {
  const buf = Buffer.alloc(8);
  buf.writeDoubleBE(durationUs / (TIMESTAMP_SCALE_NS / 1000));
  return buf;
}
