/**
 * imagezmq's wire format, so zerocam can sit in an imagezmq fleet on either side. docs/protocol.md
 * ("imagezmq interop") is its prose twin: change both together.
 *
 * One message of exactly two parts:
 *   [0] UTF-8 JSON: {"msg": TEXT} for a JPEG, or {"msg": TEXT, "dtype": "uint8", "shape": [h, w, 3] | [h, w]}
 *   [1] the JPEG, or the raw uint8 array in C order (colour is OpenCV's BGR)
 * There is no topic, sequence number or timestamp: zerocam derives the topic from msg, numbers
 * frames per topic itself, and marks capture time as unknown.
 */
import sharp from 'sharp';
import { nowMicros } from '../clock';
import { DEFAULTS } from '../defaults';
import { ProtocolError } from '../errors';
import { checkJpeg, type DecodeLimits, type Frame } from './protocol';

export const IMAGEZMQ_PARTS = 2;
/** The topic for a msg with nothing usable in it. */
export const IMAGEZMQ_FALLBACK_TOPIC = 'imagezmq';

export type ImagezmqPayload =
  | { kind: 'jpeg'; jpeg: Buffer; width: number; height: number }
  | { kind: 'array'; pixels: Buffer; width: number; height: number; channels: 1 | 3 };

export interface ImagezmqMessage {
  /** msg exactly as sent. */
  msg: string;
  /** msg mapped into zerocam's topic alphabet by topicFromImagezmqMsg. */
  topic: string;
  payload: ImagezmqPayload;
}

/**
 * The topic rule: msg up to its first whitespace or `|` (users write "NAME details" or "NAME|details"),
 * every character outside A-Z a-z 0-9 . _ - replaced by `-`, leading characters that are not a letter
 * or digit removed, cut to 64 characters; "imagezmq" if nothing is left.
 */
export function topicFromImagezmqMsg(msg: string): string {
  const name = msg.trim().split(/[\s|]/, 1)[0] ?? '';
  const topic = name
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return topic || IMAGEZMQ_FALLBACK_TOPIC;
}

/** What imagezmq's `send_jpg(msg, jpeg)` sends. */
export function encodeImagezmqJpeg(msg: string, jpeg: Buffer): [Buffer, Buffer] {
  return [Buffer.from(JSON.stringify({ msg }), 'utf8'), jpeg];
}

/** What imagezmq's `send_image(msg, array)` sends: `pixels` in C order, BGR for colour. */
export function encodeImagezmqArray(msg: string, pixels: Buffer, width: number, height: number, channels: 1 | 3): [Buffer, Buffer] {
  const shape = channels === 1 ? [height, width] : [height, width, channels];
  return [Buffer.from(JSON.stringify({ msg, dtype: 'uint8', shape }), 'utf8'), pixels];
}

function metadataError(message: string): ProtocolError {
  return new ProtocolError('imagezmq-metadata', message);
}

function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 65535;
}

/**
 * Validates one imagezmq message, in this order: part count, payload size (`oversized`), the JSON
 * metadata, then the payload: a JPEG gets zerocam's JPEG checks; an array's shape must multiply out
 * to exactly its byte length (`array-size`). Throws ProtocolError. Never decodes a JPEG.
 */
export function decodeImagezmqMessage(parts: readonly Buffer[], limits: DecodeLimits): ImagezmqMessage {
  if (parts.length !== IMAGEZMQ_PARTS) {
    throw new ProtocolError('part-count', `expected ${IMAGEZMQ_PARTS} message parts (imagezmq), got ${parts.length}`);
  }
  const [metadataPart, payload] = parts as [Buffer, Buffer];
  if (payload.length > limits.maxFrameBytes) {
    throw new ProtocolError('oversized', `payload of ${payload.length} bytes exceeds the ${limits.maxFrameBytes}-byte limit`);
  }
  if (metadataPart.length > DEFAULTS.imagezmqMaxMetadataBytes) throw metadataError(`metadata of ${metadataPart.length} bytes is too long`);
  let metadata: unknown;
  try {
    metadata = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(metadataPart));
  } catch {
    throw metadataError('part 1 is not UTF-8 JSON');
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw metadataError('part 1 is not a JSON object');
  const { msg, dtype, shape } = metadata as { msg?: unknown; dtype?: unknown; shape?: unknown };
  if (typeof msg !== 'string') throw metadataError('part 1 has no "msg" string');
  const topic = topicFromImagezmqMsg(msg);

  if (dtype === undefined && shape === undefined) {
    const info = checkJpeg(payload, limits);
    return { msg, topic, payload: { kind: 'jpeg', jpeg: payload, width: info.width, height: info.height } };
  }
  if (dtype !== 'uint8') throw metadataError(`dtype ${JSON.stringify(dtype)} is not "uint8"`);
  if (!Array.isArray(shape) || (shape.length !== 2 && shape.length !== 3) || !shape.every(isDimension)) {
    throw metadataError('shape is not [height, width] or [height, width, channels] of whole numbers 1-65535');
  }
  const [height, width, channels = 1] = shape as [number, number, number?];
  if (channels !== 1 && channels !== 3) throw metadataError(`${channels} channels: only greyscale (1) and BGR (3) are supported`);
  const expected = height * width * channels;
  if (payload.length !== expected) {
    throw new ProtocolError('array-size', `shape [${shape.join(', ')}] needs ${expected} bytes, got ${payload.length}`);
  }
  return { msg, topic, payload: { kind: 'array', pixels: payload, width, height, channels } };
}

/** OpenCV's BGR to the RGB sharp expects, into a new buffer (the received one stays as it came). */
function bgrToRgb(bgr: Buffer): Buffer {
  const rgb = Buffer.allocUnsafe(bgr.length);
  for (let i = 0; i < bgr.length; i += 3) {
    rgb[i] = bgr[i + 2]!;
    rgb[i + 1] = bgr[i + 1]!;
    rgb[i + 2] = bgr[i]!;
  }
  return rgb;
}

/** A JPEG for any imagezmq payload: a JPEG as it came, an array encoded once with sharp. */
export async function imagezmqPayloadToJpeg(payload: ImagezmqPayload, quality: number): Promise<Buffer> {
  if (payload.kind === 'jpeg') return payload.jpeg;
  const { width, height, channels } = payload;
  const pixels = channels === 3 ? bgrToRgb(payload.pixels) : payload.pixels;
  return sharp(pixels, { raw: { width, height, channels } }).jpeg({ quality }).toBuffer();
}

/**
 * Turns imagezmq messages into zerocam Frames. imagezmq has no sequence numbers, so this numbers
 * the frames of each topic from 0 within one session (this object's lifetime, named by its start
 * time). Capture and send times are unknown (0), so latency is shown as unknown, not as made up.
 */
export class ImagezmqFramer {
  readonly session = nowMicros();
  private readonly nextSeq = new Map<string, number>();

  constructor(
    private readonly limits: DecodeLimits,
    /** Quality for arrays zerocam encodes; a received JPEG's own quality is unknown (0). */
    private readonly quality: number = DEFAULTS.quality,
  ) {}

  /** Validates and converts one message; throws ProtocolError for a malformed one (which takes no seq). */
  async toFrame(parts: readonly Buffer[]): Promise<Frame> {
    const message = decodeImagezmqMessage(parts, this.limits);
    const jpeg = await imagezmqPayloadToJpeg(message.payload, this.quality);
    const seq = this.nextSeq.get(message.topic) ?? 0;
    this.nextSeq.set(message.topic, seq + 1);
    const { width, height } = message.payload;
    return {
      topic: message.topic,
      header: { session: this.session, seq, captureUs: 0, sendUs: 0, width, height, codec: 'jpeg', quality: message.payload.kind === 'array' ? this.quality : 0 },
      jpeg,
    };
  }
}
