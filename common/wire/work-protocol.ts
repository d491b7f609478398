/**
 * The work protocol between zerocam-hub (ROUTER, binds --workers) and its workers (DEALER, connect):
 * the ZeroMQ guide's load-balancing broker with credit, and Paranoid Pirate heartbeats.
 * docs/protocol.md ("Workers") is its prose twin: change both together.
 *
 * Every message starts with the part "ZCW1" (protocol and version), then a command part:
 *
 *   worker -> hub
 *     HELLO      [ZCW1, HELLO, json {"processor","worker","jobs"}]     jobs = credit granted at once
 *     CREDIT     [ZCW1, CREDIT, "n"]                                    n more frames wanted (1-64)
 *     HEARTBEAT  [ZCW1, HEARTBEAT]
 *     RESULT     [ZCW1, RESULT, "job", json {"processingMs"}, json body, (jpeg)]   returns 1 credit
 *     BYE        [ZCW1, BYE]                                            leaving: unfinished jobs go back
 *
 *   hub -> worker
 *     WORK       [ZCW1, WORK, "job", topic, header, jpeg]               the last three: a zerocam frame
 *     HEARTBEAT  [ZCW1, HEARTBEAT]
 *     DISCONNECT [ZCW1, DISCONNECT, reason]                             forgotten: reconnect and HELLO again
 *
 * Numbers are ASCII decimal, JSON is UTF-8. Anything else is garbage: the hub disconnects its sender.
 */
import { ProtocolError } from '../errors';
import { checkJpeg, decodeFrame, type DecodeLimits, type Frame } from './protocol';

export const WORK_PROTOCOL = 'ZCW1';
const PROTOCOL_PART = Buffer.from(WORK_PROTOCOL, 'ascii');
/** Frames one worker may hold at once (credit plus frames in flight). */
export const MAX_WORKER_JOBS = 64;
/** Largest HELLO or result meta JSON, and largest result body JSON. */
export const MAX_META_BYTES = 1024;
export const MAX_RESULT_BODY_BYTES = 64 * 1024;
/** Job ids are below 2^53, exact in a double. */
const MAX_JOB = 2 ** 53;

export type WorkerCommand = 'HELLO' | 'CREDIT' | 'HEARTBEAT' | 'RESULT' | 'BYE';
export type HubCommand = 'WORK' | 'HEARTBEAT' | 'DISCONNECT';

export interface WorkerHello {
  /** The processor's name (motion, faces, thumbnail, or a plug-in's), as results carry it. */
  processor: string;
  /** The worker's own name, unique in a pool by convention (zerocam: HOST-PID). */
  worker: string;
  /** Frames it can hold at once: the credit it starts with. */
  jobs: number;
}

export interface WorkerResultMessage {
  kind: 'result';
  job: number;
  processingMs: number;
  /** The processor's JSON body, as sent (validated as a JSON object). */
  body: Buffer;
  /** An optional JPEG: a thumbnail or an annotated frame. */
  image?: Buffer | undefined;
}

export type WorkerMessage =
  | ({ kind: 'hello' } & WorkerHello)
  | { kind: 'credit'; credit: number }
  | { kind: 'heartbeat' }
  | WorkerResultMessage
  | { kind: 'bye' };

export type HubMessage = { kind: 'work'; job: number; frame: Frame } | { kind: 'heartbeat' } | { kind: 'disconnect'; reason: string };

/** A malformed work-protocol message: `garbage` (not this protocol at all) or a bad `result`. */
export class WorkProtocolError extends Error {
  override name = 'WorkProtocolError';
  constructor(
    readonly reason: 'garbage' | 'result',
    message: string,
  ) {
    super(message);
  }
}

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

const ascii = (text: string): Buffer => Buffer.from(text, 'ascii');
/** Parts that never change, made once: the hot path (WORK, RESULT) allocates only the job number. */
const COMMAND = Object.fromEntries(['HELLO', 'CREDIT', 'HEARTBEAT', 'RESULT', 'BYE', 'WORK', 'DISCONNECT'].map((c) => [c, ascii(c)])) as Record<WorkerCommand | HubCommand, Buffer>;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function parseDecimal(part: Buffer | undefined, max: number, what: string, reason: WorkProtocolError['reason']): number {
  const text = part?.toString('latin1') ?? '';
  if (!DECIMAL.test(text)) throw new WorkProtocolError(reason, `${what} is not a decimal number`);
  const value = Number(text);
  if (value >= max) throw new WorkProtocolError(reason, `${what} ${value} is out of range`);
  return value;
}

function parseJsonObject(part: Buffer | undefined, maxBytes: number, what: string, reason: WorkProtocolError['reason']): Record<string, unknown> {
  if (part === undefined || part.length > maxBytes) throw new WorkProtocolError(reason, `${what} is missing or over ${maxBytes} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(part));
  } catch {
    throw new WorkProtocolError(reason, `${what} is not UTF-8 JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new WorkProtocolError(reason, `${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

export function isValidName(name: unknown): name is string {
  return typeof name === 'string' && NAME_PATTERN.test(name);
}

// ---- worker -> hub ----

export function encodeWorkerMessage(message: WorkerMessage): Buffer[] {
  switch (message.kind) {
    case 'hello':
      return [PROTOCOL_PART, COMMAND.HELLO, Buffer.from(JSON.stringify({ processor: message.processor, worker: message.worker, jobs: message.jobs }))];
    case 'credit':
      return [PROTOCOL_PART, COMMAND.CREDIT, ascii(String(message.credit))];
    case 'heartbeat':
      return [PROTOCOL_PART, COMMAND.HEARTBEAT];
    case 'result': {
      const parts = [PROTOCOL_PART, COMMAND.RESULT, ascii(String(message.job)), Buffer.from(JSON.stringify({ processingMs: message.processingMs })), message.body];
      return message.image ? [...parts, message.image] : parts;
    }
    case 'bye':
      return [PROTOCOL_PART, COMMAND.BYE];
  }
}

/**
 * A message from a worker (the ROUTER's identity part already removed). Throws WorkProtocolError:
 * `garbage` for anything that is not this protocol, `result` for a RESULT whose job id, meta, body
 * or image is malformed (counted and dropped; the worker may stay).
 */
export function decodeWorkerMessage(parts: readonly Buffer[], limits: DecodeLimits): WorkerMessage {
  const [protocol, command] = parts;
  if (!protocol?.equals(PROTOCOL_PART) || command === undefined) throw new WorkProtocolError('garbage', 'not a ZCW1 message');
  switch (command.toString('latin1')) {
    case 'HELLO': {
      if (parts.length !== 3) throw new WorkProtocolError('garbage', 'HELLO has 3 parts');
      const hello = parseJsonObject(parts[2], MAX_META_BYTES, 'HELLO', 'garbage');
      const { processor, worker, jobs } = hello;
      if (!isValidName(processor) || !isValidName(worker)) throw new WorkProtocolError('garbage', 'HELLO needs processor and worker names of 1-64 characters A-Z a-z 0-9 . _ -');
      if (typeof jobs !== 'number' || !Number.isInteger(jobs) || jobs < 1 || jobs > MAX_WORKER_JOBS) throw new WorkProtocolError('garbage', `HELLO jobs must be 1-${MAX_WORKER_JOBS}`);
      return { kind: 'hello', processor, worker, jobs };
    }
    case 'CREDIT': {
      if (parts.length !== 3) throw new WorkProtocolError('garbage', 'CREDIT has 3 parts');
      const credit = parseDecimal(parts[2], MAX_WORKER_JOBS + 1, 'CREDIT', 'garbage');
      if (credit < 1) throw new WorkProtocolError('garbage', 'CREDIT must be at least 1');
      return { kind: 'credit', credit };
    }
    case 'HEARTBEAT':
      if (parts.length !== 2) throw new WorkProtocolError('garbage', 'HEARTBEAT has 2 parts');
      return { kind: 'heartbeat' };
    case 'BYE':
      if (parts.length !== 2) throw new WorkProtocolError('garbage', 'BYE has 2 parts');
      return { kind: 'bye' };
    case 'RESULT': {
      if (parts.length !== 5 && parts.length !== 6) throw new WorkProtocolError('result', `RESULT has 5 or 6 parts, not ${parts.length}`);
      const job = parseDecimal(parts[2], MAX_JOB, 'job', 'result');
      const meta = parseJsonObject(parts[3], MAX_META_BYTES, 'result meta', 'result');
      const processingMs = meta.processingMs;
      if (typeof processingMs !== 'number' || !Number.isFinite(processingMs) || processingMs < 0 || processingMs > 3_600_000) {
        throw new WorkProtocolError('result', 'processingMs must be a number of milliseconds, 0 to 3600000');
      }
      const body = parts[4]!;
      parseJsonObject(body, MAX_RESULT_BODY_BYTES, 'result body', 'result');
      const image = parts[5];
      if (image !== undefined) checkResultImage(image, limits);
      return { kind: 'result', job, processingMs, body, image };
    }
    default:
      throw new WorkProtocolError('garbage', 'unknown command');
  }
}

function checkResultImage(image: Buffer, limits: DecodeLimits): void {
  try {
    checkJpeg(image, limits);
  } catch (error) {
    if (error instanceof ProtocolError) throw new WorkProtocolError('result', `result image: ${error.message}`);
    throw error;
  }
}

// ---- hub -> worker ----

/** WORK carries the frame's three parts exactly as received: no copy of the JPEG. */
export function encodeWork(job: number, frameParts: readonly Buffer[]): Buffer[] {
  return [PROTOCOL_PART, COMMAND.WORK, ascii(String(job)), ...frameParts];
}

export function encodeHubMessage(message: HubMessage): Buffer[] {
  switch (message.kind) {
    case 'work':
      throw new TypeError('encode WORK with encodeWork(job, frameParts)');
    case 'heartbeat':
      return [PROTOCOL_PART, COMMAND.HEARTBEAT];
    case 'disconnect':
      return [PROTOCOL_PART, COMMAND.DISCONNECT, Buffer.from(message.reason.slice(0, 200))];
  }
}

/** A message from the hub. Throws WorkProtocolError('garbage') or, for a bad frame in WORK, ProtocolError. */
export function decodeHubMessage(parts: readonly Buffer[], limits: DecodeLimits): HubMessage {
  const [protocol, command] = parts;
  if (!protocol?.equals(PROTOCOL_PART) || command === undefined) throw new WorkProtocolError('garbage', 'not a ZCW1 message');
  switch (command.toString('latin1')) {
    case 'WORK': {
      if (parts.length !== 6) throw new WorkProtocolError('garbage', 'WORK has 6 parts');
      const job = parseDecimal(parts[2], MAX_JOB, 'job', 'garbage');
      return { kind: 'work', job, frame: decodeFrame(parts.slice(3), limits) };
    }
    case 'HEARTBEAT':
      return { kind: 'heartbeat' };
    case 'DISCONNECT':
      return { kind: 'disconnect', reason: parts[2]?.toString('utf8').slice(0, 200) ?? '' };
    default:
      throw new WorkProtocolError('garbage', 'unknown command');
  }
}

