/** Base of every error zerocam raises on purpose; anything else is a bug. */
export class ZerocamError extends Error {
  override name = 'ZerocamError';
}

/**
 * The user asked for something that cannot work: a bad flag, endpoint, source or directory.
 * CLIs print its message as one line and exit with code 2.
 */
export class UsageError extends ZerocamError {
  override name = 'UsageError';
}

/** A camera or video file that OpenCV could not open. */
export class SourceOpenError extends UsageError {
  override name = 'SourceOpenError';
}

/** The output directory cannot be written. */
export class OutputDirError extends UsageError {
  override name = 'OutputDirError';
}

/** A frame could not be written to disk (disk full, permissions changed mid-run, ...). */
export class SaveError extends ZerocamError {
  override name = 'SaveError';
}

/** A web client asked for more than the server allows (pages, connections per page); it is told so. */
export class LimitError extends ZerocamError {
  override name = 'LimitError';
}

/** The program is stopping: a request that came in meanwhile is refused rather than started. */
export class ShuttingDownError extends ZerocamError {
  override name = 'ShuttingDownError';
}

/** Thrown for anything a renderer sends that is not a well-formed request; the caller drops it. */
export class InvalidMessageError extends ZerocamError {
  override name = 'InvalidMessageError';
  /** Set when the message was a request: the renderer is owed a reply carrying this error. */
  requestId: number | undefined;
}

/** A page asked the server to connect to a local endpoint (ipc://, inproc://) without --allow-ipc. */
export class RefusedEndpointError extends ZerocamError {
  override name = 'RefusedEndpointError';
}

export const REJECT_REASONS = [
  'part-count',
  'topic',
  'header-size',
  'magic',
  'version',
  'codec',
  'header-field',
  'oversized',
  'jpeg-markers',
  // #9: the JPEG's own SOF size disagrees with the header; imagezmq messages.
  'jpeg-size',
  'imagezmq-metadata',
  'array-size',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** A received message that does not follow docs/protocol.md. It is counted and dropped, never fatal. */
export class ProtocolError extends ZerocamError {
  override name = 'ProtocolError';
  constructor(
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
  }
}

/** Renders anything thrown, including the plain strings OpenCV throws, as one line. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return String(error);
}

/** A receiver's link report (docs/protocol.md, "Link reports") that does not parse. Counted and dropped, never fatal. */
export class LinkReportError extends ZerocamError {
  override name = 'LinkReportError';
}

/** A CURVE key file that cannot be used: unreadable, malformed, or a secret key others can read. */
export class KeyFileError extends UsageError {
  override name = 'KeyFileError';
}

/** A frame handed to an encoder in a form it does not take (e.g. BGR bytes to sharp, which reads RGB). */
export class EncoderInputError extends ZerocamError {
  override name = 'EncoderInputError';
}
