/**
 * A result: what a worker made of one frame, as the hub publishes it on its results socket
 * (--results, XPUB). docs/protocol.md ("Results") is its prose twin: change both together.
 *
 * One multipart message of 3 or 4 parts:
 *   [0] topic   the frame's topic, first, so SUB sockets filter results by stream as they do frames
 *   [1] header  UTF-8 JSON: {"kind":"result","v":1,"session","seq","captureUs","processor","worker","processingMs","resultUs"}
 *   [2] body    UTF-8 JSON object: the processor's own result (boxes, labels, a motion fraction...)
 *   [3] image   optional JPEG: a thumbnail or an annotated frame
 */
import { ProtocolError } from '../errors';
import { checkJpeg, isValidTopic, type DecodeLimits } from './protocol';
import { isValidName, MAX_META_BYTES, MAX_RESULT_BODY_BYTES } from './work-protocol';

export const RESULT_VERSION = 1;

export interface ResultHeader {
  session: number;
  seq: number;
  /** The frame's capture time (epoch µs, sender's clock); 0 = unknown. */
  captureUs: number;
  processor: string;
  worker: string;
  /** What the worker reported its processor took. */
  processingMs: number;
  /** When the hub had the result (epoch µs, the hub's clock). */
  resultUs: number;
}

export interface WorkResult {
  topic: string;
  header: ResultHeader;
  /** The body exactly as the worker sent it (a JSON object's text). */
  body: Buffer;
  image?: Buffer | undefined;
}

/** A box in a result body, in the frame's pixels, as the viewer draws it. */
export interface ResultBox {
  x: number;
  y: number;
  w: number;
  h: number;
  label?: string | undefined;
}

export function encodeResult(result: WorkResult): Buffer[] {
  const { header } = result;
  const json = {
    kind: 'result',
    v: RESULT_VERSION,
    session: header.session,
    seq: header.seq,
    captureUs: header.captureUs,
    processor: header.processor,
    worker: header.worker,
    processingMs: header.processingMs,
    resultUs: header.resultUs,
  };
  const parts = [Buffer.from(result.topic, 'ascii'), Buffer.from(JSON.stringify(json)), result.body];
  return result.image ? [...parts, result.image] : parts;
}

const U53 = 2 ** 53;
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < U53;

/** Validates one results message. Throws ProtocolError ('part-count', 'topic', 'header-field', 'oversized', 'jpeg-markers'). */
export function decodeResult(parts: readonly Buffer[], limits: DecodeLimits): WorkResult & { bodyJson: Record<string, unknown> } {
  if (parts.length !== 3 && parts.length !== 4) throw new ProtocolError('part-count', `a result has 3 or 4 parts, not ${parts.length}`);
  const [topicPart, headerPart, body, image] = parts as [Buffer, Buffer, Buffer, Buffer | undefined];
  const topic = topicPart.toString('latin1');
  if (!isValidTopic(topic)) throw new ProtocolError('topic', 'invalid topic');
  const header = parseObject(headerPart, MAX_META_BYTES, 'result header');
  const { kind, v, session, seq, captureUs, processor, worker, processingMs, resultUs } = header;
  if (kind !== 'result' || v !== RESULT_VERSION) throw new ProtocolError('version', 'not a version 1 result');
  if (!isCount(session) || !isCount(seq) || !isCount(captureUs) || !isCount(resultUs) || !isValidName(processor) || !isValidName(worker)) {
    throw new ProtocolError('header-field', 'a result header field is missing or out of range');
  }
  if (typeof processingMs !== 'number' || !Number.isFinite(processingMs) || processingMs < 0) throw new ProtocolError('header-field', 'processingMs');
  const bodyJson = parseObject(body, MAX_RESULT_BODY_BYTES, 'result body');
  if (image !== undefined) checkJpeg(image, limits);
  return { topic, header: { session, seq, captureUs, processor, worker, processingMs, resultUs }, body, image, bodyJson };
}

function parseObject(part: Buffer, maxBytes: number, what: string): Record<string, unknown> {
  if (part.length > maxBytes) throw new ProtocolError('oversized', `${what} over ${maxBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(part));
  } catch {
    throw new ProtocolError('header-field', `${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ProtocolError('header-field', `${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** The boxes a result body carries (`boxes: [{x,y,w,h,label?}]`), those that are well-formed, at most 64. */
export function resultBoxes(body: Record<string, unknown>): ResultBox[] {
  const boxes = body.boxes;
  if (!Array.isArray(boxes)) return [];
  const out: ResultBox[] = [];
  for (const box of boxes.slice(0, 64) as unknown[]) {
    if (typeof box !== 'object' || box === null) continue;
    const { x, y, w, h, label } = box as Record<string, unknown>;
    if ([x, y, w, h].every((n) => typeof n === 'number' && Number.isFinite(n))) {
      out.push({ x: x as number, y: y as number, w: w as number, h: h as number, label: typeof label === 'string' ? label.slice(0, 64) : undefined });
    }
  }
  return out;
}
