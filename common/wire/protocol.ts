/**
 * The zerocam wire format, version 1. docs/protocol.md is its prose twin: change both together.
 *
 * A frame is one ZeroMQ multipart message of exactly three parts:
 *   [0] topic   ASCII, 1-64 bytes of [A-Za-z0-9._-], first character alphanumeric
 *   [1] header  48 bytes, little-endian (Python: struct '<4sBBBBHHIQQQQ')
 *   [2] jpeg    a JPEG: starts FF D8, ends FF D9, its SOF size equal to the header's
 */
import { ProtocolError } from '../errors';
import { JpegStructureError, readJpegFrameInfo, type JpegFrameInfo } from './jpeg-structure';

export const PROTOCOL_VERSION = 1;
export const HEADER_BYTES = 48;
export const MAGIC = Buffer.from('ZCAM', 'ascii');
export const TOPIC_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const CODECS = { jpeg: 1 } as const;
export type Codec = keyof typeof CODECS;

const OFFSET = {
  magic: 0,
  version: 4,
  codec: 5,
  quality: 6,
  flags: 7,
  width: 8,
  height: 10,
  reserved: 12,
  session: 16,
  seq: 24,
  captureUs: 32,
  sendUs: 40,
} as const;
const TWO_POW_32 = 0x1_0000_0000;

export interface FrameHeader {
  /** Identifies one run of a sender: its start time in epoch microseconds. seq restarts when it changes. */
  session: number;
  /** Frame number within the session, from 0, with no gaps unless frames were lost. */
  seq: number;
  /** When the frame was captured, epoch microseconds (sender's clock); 0 = unknown (e.g. from imagezmq). */
  captureUs: number;
  /** When the frame was handed to the socket, epoch microseconds (sender's clock); 0 = unknown. */
  sendUs: number;
  width: number;
  height: number;
  codec: Codec;
  /** JPEG quality the sender used, 1-100; 0 = unknown (a JPEG zerocam did not encode). */
  quality: number;
  /**
   * flags bit 0: a recording played back (zerocam-sender --source recording:DIR). captureUs is then
   * the frame's original capture time, so latency is measured from sendUs. Absent = false.
   */
  replay?: boolean;
  /**
   * The clock field: flags bits 1-3 and the reserved u32 (docs/protocol.md, "Clock offsets").
   * Absent: reserved is 0 and those bits are clear. Receivers that do not know them ignore both.
   */
  clock?: ClockField;
}

/**
 * What the reserved u32 carries, at most one per frame:
 * - echo (flags bit 1): a receiver's clock probe (from its link report), 1 to 2^24 − 1, echoed by a PUB sender;
 * - hold (bit 2): µs from that probe's arrival at the sender to send_us of the previous frame (seq − 1);
 * - reply-rtt (bit 3): REQ senders: µs from send_us of the previous frame (seq − 1) to its reply's arrival.
 */
export interface ClockField {
  kind: 'echo' | 'hold' | 'reply-rtt';
  value: number;
}

/** Bits of the header's flags byte. Receivers ignore bits they do not know. */
export const FLAGS = { replay: 0x01, clockEcho: 0x02, clockHold: 0x04, clockReplyRtt: 0x08 } as const;
const CLOCK_FLAGS = { echo: FLAGS.clockEcho, hold: FLAGS.clockHold, 'reply-rtt': FLAGS.clockReplyRtt } as const;
/** Largest clock probe: link reports carry it in 3 bytes. */
export const MAX_CLOCK_PROBE = 0xff_ffff;

function clockFieldIsValid(field: ClockField): boolean {
  const max = field.kind === 'echo' ? MAX_CLOCK_PROBE : 0xffff_ffff;
  return Number.isInteger(field.value) && field.value >= (field.kind === 'echo' ? 1 : 0) && field.value <= max;
}

export interface Frame {
  topic: string;
  header: FrameHeader;
  /** The JPEG exactly as sent; zerocam never re-encodes it. */
  jpeg: Buffer;
}

export interface DecodeLimits {
  maxFrameBytes: number;
}

export function isValidTopic(topic: string): boolean {
  return TOPIC_PATTERN.test(topic);
}

export function encodeTopic(topic: string): Buffer {
  if (!isValidTopic(topic)) {
    throw new RangeError(`invalid topic ${JSON.stringify(topic)}: use 1-64 characters of A-Z a-z 0-9 . _ -`);
  }
  return Buffer.from(topic, 'ascii');
}

export function encodeHeader(header: FrameHeader): Buffer {
  const buf = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(buf, OFFSET.magic);
  buf.writeUInt8(PROTOCOL_VERSION, OFFSET.version);
  buf.writeUInt8(CODECS[header.codec], OFFSET.codec);
  buf.writeUInt8(header.quality, OFFSET.quality);
  const clock = header.clock && clockFieldIsValid(header.clock) ? header.clock : undefined;
  buf.writeUInt8((header.replay ? FLAGS.replay : 0) | (clock ? CLOCK_FLAGS[clock.kind] : 0), OFFSET.flags);
  buf.writeUInt16LE(header.width, OFFSET.width);
  buf.writeUInt16LE(header.height, OFFSET.height);
  buf.writeUInt32LE(clock?.value ?? 0, OFFSET.reserved);
  writeU64(buf, header.session, OFFSET.session);
  writeU64(buf, header.seq, OFFSET.seq);
  writeU64(buf, header.captureUs, OFFSET.captureUs);
  writeU64(buf, header.sendUs, OFFSET.sendUs);
  return buf;
}

/** A u64 from a number, without a BigInt per field on the send path; like writeBigUInt64LE, a RangeError for anything but a safe non-negative integer. */
function writeU64(buf: Buffer, value: number, offset: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`header field ${value} is not an integer from 0 to 2^53 - 1`);
  buf.writeUInt32LE(value % TWO_POW_32, offset);
  buf.writeUInt32LE(Math.floor(value / TWO_POW_32), offset + 4);
}

/** The three parts of one frame message. `topic` may be pre-encoded once per stream with encodeTopic(). */
export function encodeFrame(topic: string | Buffer, header: FrameHeader, jpeg: Buffer): [Buffer, Buffer, Buffer] {
  const topicPart = typeof topic === 'string' ? encodeTopic(topic) : topic;
  return [topicPart, encodeHeader(header), jpeg];
}

const MAGIC_U32 = MAGIC.readUInt32LE(0);

/**
 * A u64 as a number, without a BigInt per field on the receive path. Values of 2^53 and above are
 * not exact in a double: they come back as Infinity, which the range check rejects.
 */
function readU64(buf: Buffer, offset: number): number {
  const high = buf.readUInt32LE(offset + 4);
  return high >= 0x20_0000 ? Infinity : high * TWO_POW_32 + buf.readUInt32LE(offset);
}

/**
 * Validates and decodes one received message. Throws ProtocolError, whose `reason` names what was wrong.
 * The JPEG part is returned as the very Buffer received: no copy, no decode.
 */
export function decodeFrame(parts: readonly Buffer[], limits: DecodeLimits): Frame {
  if (parts.length !== 3) {
    throw new ProtocolError('part-count', `expected 3 message parts, got ${parts.length}`);
  }
  const [topicPart, header, jpeg] = parts as [Buffer, Buffer, Buffer];

  const topic = topicPart.toString('latin1');
  if (!isValidTopic(topic)) throw new ProtocolError('topic', `invalid topic (${topicPart.length} bytes)`);

  if (header.length !== HEADER_BYTES) {
    throw new ProtocolError('header-size', `header is ${header.length} bytes, expected ${HEADER_BYTES}`);
  }
  if (header.readUInt32LE(0) !== MAGIC_U32) throw new ProtocolError('magic', 'header does not start with "ZCAM"');
  const version = header.readUInt8(OFFSET.version);
  if (version !== PROTOCOL_VERSION) {
    throw new ProtocolError('version', `protocol version ${version} is not supported (this build speaks ${PROTOCOL_VERSION})`);
  }
  const codecId = header.readUInt8(OFFSET.codec);
  if (codecId !== CODECS.jpeg) throw new ProtocolError('codec', `unknown codec id ${codecId}`);

  const quality = header.readUInt8(OFFSET.quality);
  const width = header.readUInt16LE(OFFSET.width);
  const height = header.readUInt16LE(OFFSET.height);
  const session = readU64(header, OFFSET.session);
  const seq = readU64(header, OFFSET.seq);
  const captureUs = readU64(header, OFFSET.captureUs);
  const sendUs = readU64(header, OFFSET.sendUs);
  if (quality > 100) throw new ProtocolError('header-field', `quality ${quality} is outside 0-100`);
  if (width === 0 || height === 0) throw new ProtocolError('header-field', `frame size ${width}x${height} is empty`);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(session) || !Number.isSafeInteger(captureUs) || !Number.isSafeInteger(sendUs)) {
    throw new ProtocolError('header-field', 'session, seq or a timestamp is 2^53 or more');
  }

  const info = checkJpeg(jpeg, limits);
  if (info.width !== width || info.height !== height) {
    throw new ProtocolError('jpeg-size', `header says ${width}x${height} but the JPEG's SOF says ${info.width}x${info.height}`);
  }

  const decoded: FrameHeader = { session, seq, captureUs, sendUs, width, height, codec: 'jpeg', quality };
  const flags = header.readUInt8(OFFSET.flags);
  if (flags & FLAGS.replay) decoded.replay = true;
  const clock = decodeClockField(flags, header.readUInt32LE(OFFSET.reserved));
  if (clock) decoded.clock = clock;
  return { topic, header: decoded, jpeg };
}

/** The clock field of a header, if exactly one clock bit is set and its value is in range; otherwise none (never a reject). */
function decodeClockField(flags: number, reserved: number): ClockField | undefined {
  const kinds = (Object.keys(CLOCK_FLAGS) as ClockField['kind'][]).filter((kind) => flags & CLOCK_FLAGS[kind]);
  if (kinds.length !== 1) return undefined;
  const field: ClockField = { kind: kinds[0]!, value: reserved };
  return clockFieldIsValid(field) ? field : undefined;
}

/**
 * The payload checks every wire format shares, cheapest first: size, the SOI/EOI markers, then the
 * marker segments up to the first scan (no decode). Returns the JPEG's SOF size and kind.
 */
export function checkJpeg(jpeg: Buffer, limits: DecodeLimits): JpegFrameInfo {
  if (jpeg.length > limits.maxFrameBytes) {
    throw new ProtocolError('oversized', `JPEG of ${jpeg.length} bytes exceeds the ${limits.maxFrameBytes}-byte limit`);
  }
  const n = jpeg.length;
  if (n < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[n - 2] !== 0xff || jpeg[n - 1] !== 0xd9) {
    throw new ProtocolError('jpeg-markers', 'payload is not a complete JPEG (missing FF D8 start or FF D9 end marker)');
  }
  try {
    return readJpegFrameInfo(jpeg);
  } catch (error) {
    if (error instanceof JpegStructureError) throw new ProtocolError('jpeg-markers', `payload's JPEG headers are broken: ${error.message}`);
    throw error;
  }
}
