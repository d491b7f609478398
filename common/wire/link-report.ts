import { LinkReportError } from '../errors';
import { isValidTopic } from './protocol';

/**
 * A link report: what one zerocam SUB receiver got of one stream, sent upstream on its subscription
 * path (docs/protocol.md, "Link reports"). One single-part message:
 *
 *   offset size  field
 *   0      4     magic 'ZCLR' (its first byte is neither 0 nor 1, so XPUB never takes it for a subscription)
 *   4      1     version 1
 *   5      3     probe: u24, a clock probe the receiver asks PUB senders to echo (docs/protocol.md,
 *                 "Clock offsets"); 0 = none. Version-1 readers ignore these bytes (they were reserved).
 *   8      4     receiver: u32 chosen at random by the receiver, the same in all its reports
 *   12     8     session of the stream the counts are for
 *   20     8     frames: frames of that session accepted so far
 *   28     8     bytes: JPEG bytes of those frames
 *   36     8     dropped: seq gaps in that session so far
 *   44     1..64 topic
 *
 * Counts are cumulative, so a lost report loses nothing: the next one carries them.
 */
export interface LinkReport {
  receiver: number;
  topic: string;
  session: number;
  frames: number;
  bytes: number;
  dropped: number;
  /** A clock probe, 1 to 2^24 − 1, that the receiver asks to be echoed; absent = none (0 on the wire). */
  probe?: number;
}

export const LINK_REPORT_MAGIC = Buffer.from('ZCLR', 'ascii');
export const LINK_REPORT_VERSION = 1;
const FIXED_BYTES = 44;
const MAX_U53 = 2 ** 53;

export function encodeLinkReport(report: LinkReport): Buffer {
  if (!isValidTopic(report.topic)) throw new LinkReportError(`invalid topic ${JSON.stringify(report.topic)}`);
  const topic = Buffer.from(report.topic, 'ascii');
  const message = Buffer.alloc(FIXED_BYTES + topic.length);
  LINK_REPORT_MAGIC.copy(message, 0);
  message.writeUInt8(LINK_REPORT_VERSION, 4);
  const probe = report.probe ?? 0;
  if (!Number.isInteger(probe) || probe < 0 || probe > 0xff_ffff) throw new LinkReportError(`clock probe ${probe} is outside 0 to 2^24 − 1`);
  message.writeUIntLE(probe, 5, 3);
  message.writeUInt32LE(report.receiver >>> 0, 8);
  message.writeBigUInt64LE(BigInt(report.session), 12);
  message.writeBigUInt64LE(BigInt(report.frames), 20);
  message.writeBigUInt64LE(BigInt(report.bytes), 28);
  message.writeBigUInt64LE(BigInt(report.dropped), 36);
  topic.copy(message, FIXED_BYTES);
  return message;
}

/** Whether an upstream message claims to be a link report (as opposed to a subscription or anything else). */
export function isLinkReport(message: Buffer): boolean {
  return message.length >= LINK_REPORT_MAGIC.length && message.subarray(0, LINK_REPORT_MAGIC.length).equals(LINK_REPORT_MAGIC);
}

export function decodeLinkReport(message: Buffer): LinkReport {
  if (!isLinkReport(message)) throw new LinkReportError('not a link report (magic)');
  if (message.length < FIXED_BYTES + 1) throw new LinkReportError(`link report of ${message.length} bytes is too short`);
  const version = message.readUInt8(4);
  if (version !== LINK_REPORT_VERSION) throw new LinkReportError(`link report version ${version} is not ${LINK_REPORT_VERSION}`);
  const u53 = (offset: number): number => {
    const value = message.readBigUInt64LE(offset);
    if (value >= BigInt(MAX_U53)) throw new LinkReportError(`link report field at byte ${offset} is 2^53 or more`);
    return Number(value);
  };
  const topic = message.toString('latin1', FIXED_BYTES);
  if (!isValidTopic(topic)) throw new LinkReportError('link report topic is empty, too long or outside the alphabet');
  const report: LinkReport = { receiver: message.readUInt32LE(8), session: u53(12), frames: u53(20), bytes: u53(28), dropped: u53(36), topic };
  const probe = message.readUIntLE(5, 3);
  if (probe !== 0) report.probe = probe;
  return report;
}
