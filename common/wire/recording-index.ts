/**
 * A recording's index.jsonl: one JSON line per saved frame, in the order frames were saved. The
 * receiver writes it (receiver/frame-store.ts); the sender's replay source reads it
 * (sender/sources/recording-source.ts). README.md ("Headless recorder") describes it for people.
 */
import { UsageError } from '../errors';
import { isValidTopic } from './protocol';

export const INDEX_FILE = 'index.jsonl';

/** One line of index.jsonl. */
export interface IndexEntry {
  topic: string;
  session: number;
  seq: number;
  /** The sender's capture time, epoch µs; 0 = unknown (imagezmq). */
  captureUs: number;
  /** The receiver's clock when the frame arrived, epoch µs. */
  receiveUs: number;
  /** The JPEG's length. */
  bytes: number;
  width: number;
  height: number;
  /** Relative to the recording's directory: a .jpg (--format jpeg) or a .mkv segment (--format segments). */
  file: string;
  /** Segments only: where the JPEG's bytes start in the file. */
  offset?: number;
  /** Segments only: the frame's position in its segment, from 0. */
  frame?: number;
  /** Segments only: the frame's presentation time in the segment, µs from its start. */
  ptsUs?: number;
  /**
   * Only where the sender's clock offset was measured (docs/protocol.md, "Clock offsets"): the
   * capture-to-receive latency, µs, corrected by clockOffsetUs (the sender's clock minus the
   * receiver's, ± clockUncertaintyUs), and latencyCorrected true. Absent: the latency is receiveUs −
   * captureUs, across two clocks, uncorrected. captureUs itself is always the sender's, raw.
   */
  latencyUs?: number;
  latencyCorrected?: boolean;
  clockOffsetUs?: number;
  clockUncertaintyUs?: number;
}

/** A directory that is not a recording, or an index or file that does not match it: one line, exit 2. */
export class RecordingError extends UsageError {
  override name = 'RecordingError';
}

export function formatIndexLine(entry: IndexEntry): string {
  return `${JSON.stringify(entry)}\n`;
}

const COUNTS = ['session', 'seq', 'captureUs', 'receiveUs', 'bytes', 'width', 'height'] as const;
const SEGMENT_COUNTS = ['offset', 'frame', 'ptsUs'] as const;

/** Parses one line; throws RecordingError naming `where` (FILE:LINE) for anything that is not an index entry. */
export function parseIndexLine(line: string, where: string): IndexEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new RecordingError(`${where}: not a JSON line of an index`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new RecordingError(`${where}: not an index entry`);
  const record = value as Record<string, unknown>;
  const count = (key: string, required: boolean): number | undefined => {
    const n = record[key];
    if (n === undefined && !required) return undefined;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new RecordingError(`${where}: "${key}" is not a whole number`);
    return n;
  };
  const topic = record.topic;
  const file = record.file;
  if (typeof topic !== 'string' || !isValidTopic(topic)) throw new RecordingError(`${where}: "topic" is not a stream name`);
  if (typeof file !== 'string' || file.length === 0 || file.startsWith('/') || file.split('/').includes('..')) {
    throw new RecordingError(`${where}: "file" is not a path inside the recording`);
  }
  const entry: IndexEntry = { topic, session: 0, seq: 0, captureUs: 0, receiveUs: 0, bytes: 0, width: 0, height: 0, file };
  for (const key of COUNTS) entry[key] = count(key, true)!;
  for (const key of SEGMENT_COUNTS) {
    const n = count(key, false);
    if (n !== undefined) entry[key] = n;
  }
  if (entry.bytes < 4) throw new RecordingError(`${where}: "bytes" is too small for a JPEG`);
  return entry;
}

export interface ParsedIndex {
  entries: IndexEntry[];
  /** The last line had no newline: a write cut short by a crash. It is not an entry. */
  tornTail: boolean;
}

/** Parses a whole index.jsonl text. A final line without its newline is a torn write, reported, not parsed. */
export function parseIndex(text: string, path: string): ParsedIndex {
  const lines = text.split('\n');
  const tail = lines.pop() ?? '';
  const entries: IndexEntry[] = [];
  lines.forEach((line, i) => {
    if (line.trim() !== '') entries.push(parseIndexLine(line, `${path}:${i + 1}`));
  });
  return { entries, tornTail: tail.length > 0 };
}

/** The time that orders a frame in a recording: its capture time, or its receive time when the sender gave none. */
export function frameTimeUs(entry: Pick<IndexEntry, 'captureUs' | 'receiveUs'>): number {
  return entry.captureUs !== 0 ? entry.captureUs : entry.receiveUs;
}
