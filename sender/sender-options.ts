import type { RequestPattern, SenderPattern, EncoderName, Wire } from '../common/defaults';
import type { CurveSettings } from '../common/sockets/curve-security';
import type { Attachment } from '../common/sockets/socket-options';
import type { JpegSettings } from './encode/frame-encoder';
import type { StripSetting } from './encode/strip-plan';
import type { SourceSpec } from './sources/source-spec';

/** What a FrameStreamer is asked to do: the CLI's flags, parsed (sender/cli.ts), or a bench's or test's choice. */
export interface SenderOptions {
  source: SourceSpec;
  pattern: SenderPattern | RequestPattern;
  attachment: Attachment;
  /** Default 'zerocam'. */
  wire?: Wire;
  /** req: how long to wait for each reply before reopening the socket. */
  replyTimeoutMs?: number;
  topic: string;
  /** testsrc size, or the size asked of a camera. */
  width: number;
  height: number;
  /** Frames per second; 0 = unthrottled; undefined = the source's own rate (testsrc: DEFAULTS.fps). */
  fps: number | undefined;
  loop: boolean;
  jpeg: JpegSettings;
  /** Stop after this many frames. */
  frames?: number | undefined;
  /** Stop after this many seconds. */
  durationS?: number | undefined;
  sendHighWaterMark?: number;
  encodeConcurrency?: number;
  /** Which library encodes JPEG (sender/encode/frame-encoder.ts); default DEFAULTS.encoder. */
  encoder?: EncoderName;
  /** Strips per frame (1..64) or 'auto' (sender/encode/strip-plan.ts). */
  strips?: StripSetting;
  /** Send the camera's or file's own JPEG frames as they are: no decode, no encode. */
  passthrough?: boolean;
  /** Called when the sender stops working because no one watches, and when someone does again. */
  onIdleChange?: (idle: boolean) => void;
  /** --adapt (PUB, encoding): fit quality, then size, to the slowest reporting receiver's link, down to this quality. */
  adapt?: { minQuality: number } | undefined;
  /** Called when --adapt changes the quality or scale. */
  onAdapt?: (settings: { quality: number; scale: number }) => void;
  /** CURVE: on when a key (binding) or a server key (connecting) is given. */
  curve?: CurveSettings | undefined;
}
