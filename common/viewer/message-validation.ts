import { isCurveKey, type CurveKeyPair } from '../sockets/curve-keys';
import { parseEndpoint } from '../sockets/endpoint';
import { describeError, InvalidMessageError } from '../errors';
import { isValidTopic } from '../wire/protocol';
import type { ClientMessage, ConnectRequest, ViewerSettings } from './viewer-messages';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function wholeNumber(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new InvalidMessageError(`${what} must be a whole number`);
  return value;
}

function shortString(value: unknown, what: string, max = 256): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) throw new InvalidMessageError(`${what} must be a string of 1-${max} characters`);
  return value;
}

/** A renderer is untrusted input: every field is checked, and unknown fields are dropped. */
export function parseConnectRequest(value: unknown): ConnectRequest {
  if (!isRecord(value)) throw new InvalidMessageError('connect request must be an object');
  let endpoint: string;
  try {
    endpoint = parseEndpoint(shortString(value.endpoint, 'endpoint', 512), 'connect');
  } catch (error) {
    throw new InvalidMessageError(describeError(error));
  }
  const pattern = value.pattern ?? 'sub';
  if (pattern !== 'sub' && pattern !== 'pull') throw new InvalidMessageError('pattern must be "sub" or "pull"');
  const topics = value.topics ?? [];
  if (!Array.isArray(topics) || topics.length > 64) throw new InvalidMessageError('topics must be a list of at most 64 names');
  for (const topic of topics) {
    if (typeof topic !== 'string' || !isValidTopic(topic)) throw new InvalidMessageError(`invalid topic ${JSON.stringify(topic)}`);
  }
  const wire = value.wire ?? 'zerocam';
  if (wire !== 'zerocam' && wire !== 'imagezmq') throw new InvalidMessageError('wire must be "zerocam" or "imagezmq"');
  const request: ConnectRequest = { endpoint, pattern, topics: topics as string[], ...(wire === 'imagezmq' ? { wire } : {}) };
  const serverKey = value.serverKey ?? '';
  if (typeof serverKey !== 'string' || (serverKey !== '' && !isCurveKey(serverKey))) {
    throw new InvalidMessageError('serverKey must be a CURVE public key: 40 characters of Z85, as zerocam-keys show prints');
  }
  if (serverKey !== '') request.serverKey = serverKey;
  if (value.results !== undefined && value.results !== '') {
    try {
      request.results = parseEndpoint(shortString(value.results, 'results', 512), 'connect');
    } catch (error) {
      throw new InvalidMessageError(describeError(error));
    }
  }
  return request;
}

export function parseClientMessage(value: unknown): ClientMessage {
  if (!isRecord(value)) throw new InvalidMessageError('message must be an object');
  switch (value.type) {
    case 'connect': {
      const requestId = wholeNumber(value.requestId, 'requestId');
      try {
        return { type: 'connect', requestId, request: parseConnectRequest(value.request) };
      } catch (error) {
        if (error instanceof InvalidMessageError) error.requestId = requestId;
        throw error;
      }
    }
    case 'disconnect':
      return { type: 'disconnect', requestId: wholeNumber(value.requestId, 'requestId'), connectionId: shortString(value.connectionId, 'connectionId', 64) };
    case 'displayed':
      return { type: 'displayed', key: shortString(value.key, 'key', 160), ticket: wholeNumber(value.ticket, 'ticket') };
    case 'clock':
      return { type: 'clock', t1: wholeNumber(value.t1, 't1') };
    default:
      throw new InvalidMessageError(`unknown message type ${JSON.stringify(value.type)}`);
  }
}

/** How the CLI hands --curve-key to the Electron main process it starts (the renderer never sees it). */
export const VIEWER_CURVE_KEY_ENV = 'ZEROCAM_VIEWER_CURVE_KEY';

export function parseViewerCurveKey(json: string | undefined): CurveKeyPair | undefined {
  if (json === undefined) return undefined;
  const value: unknown = JSON.parse(json);
  if (!isRecord(value) || typeof value.publicKey !== 'string' || typeof value.secretKey !== 'string' || !isCurveKey(value.publicKey) || !isCurveKey(value.secretKey)) {
    throw new InvalidMessageError(`${VIEWER_CURVE_KEY_ENV} must hold a CURVE key pair`);
  }
  return { publicKey: value.publicKey, secretKey: value.secretKey };
}

/** The settings the CLI hands to the Electron main process (through its environment). */
export function parseViewerSettings(value: unknown): ViewerSettings {
  if (!isRecord(value) || !Array.isArray(value.connections)) throw new InvalidMessageError('settings must have a connections list');
  return { connections: value.connections.map(parseConnectRequest) };
}
