/**
 * What the viewer's backend (Electron's main process, or the --web server) and its renderer say
 * to each other. Types only: the renderer bundle imports them, and they vanish at compile time.
 */

export type ViewerPattern = 'sub' | 'pull';

export interface ConnectRequest {
  endpoint: string;
  pattern: ViewerPattern;
  /** Exact topics to show; empty shows every stream on the endpoint. */
  topics: string[];
  /** imagezmq: the endpoint is an imagezmq PUB sender (with pattern sub). Absent: zerocam. */
  wire?: 'zerocam' | 'imagezmq';
  /** The sender's CURVE public key (Z85, 40 characters): encrypts this connection. Never a secret key. */
  serverKey?: string;
  /** A hub's --results endpoint: results for these streams, drawn over their frames (#18). */
  results?: string;
}

/** The newest result of a stream, as drawn over its frame. */
export interface ResultOverlay {
  seq: number;
  processor: string;
  worker: string;
  /** In the frame's pixels. */
  boxes: Array<{ x: number; y: number; w: number; h: number; label?: string | undefined }>;
}

/** A stream's results, for its tile's stats. */
export interface ResultStats {
  perSecond: number;
  processingP50Ms: number;
  /** Capture to the result's arrival here, of the newest result; undefined without a capture time. */
  ageMs: number | undefined;
  /** ageMs is corrected by the camera's measured clock offset (docs/protocol.md, "Clock offsets") to within ± this; undefined: uncorrected. */
  ageUncertaintyMs: number | undefined;
  processor: string;
}

/** What the viewer was started with (its flags); the renderer pre-fills its form from it. */
export interface ViewerSettings {
  connections: ConnectRequest[];
}

export type StreamState = 'waiting' | 'live' | 'stalled';

export interface ConnectionStatus {
  id: string;
  endpoint: string;
  pattern: ViewerPattern;
  topics: string[];
  /** The CURVE server key this connection encrypts to, if any. */
  serverKey?: string;
  /** The hub's --results endpoint this connection draws results from, if any. */
  results?: string;
  /** waiting until its first frame; then live or stalled like its streams. */
  state: StreamState;
}

export interface StreamStatus {
  /** `${connectionId}/${topic}`: unique even when two endpoints carry the same topic. */
  key: string;
  connectionId: string;
  topic: string;
  state: StreamState;
  width: number;
  height: number;
  frames: number;
  receivedFps: number;
  bytesPerSecond: number;
  /** Capture to receive, over the last second, ms. The renderer adds capture-to-display. */
  receiveLatencyMs: { p50: number; p99: number };
  /** Sequence gaps: frames that never arrived. */
  dropped: number;
  /** Frames passed over for a newer one before they reached the screen. */
  skipped: number;
  /** Malformed messages on this stream's connection. */
  rejected: number;
  /** With a results endpoint, once results came. */
  results?: ResultStats;
}

export interface StatusUpdate {
  connections: ConnectionStatus[];
  streams: StreamStatus[];
}

export interface FrameMeta {
  key: string;
  /** Numbers deliveries of this stream to this renderer; the renderer acks it once painted. */
  ticket: number;
  topic: string;
  connectionId: string;
  session: number;
  seq: number;
  captureUs: number;
  /** When the sender sent it, epoch µs; a replay's latency counts from here. */
  sendUs: number;
  /** A recording played back (header flag, docs/protocol.md): captureUs is its original capture time. */
  replay: boolean;
  receiveUs: number;
  width: number;
  height: number;
  /** The stream's newest result (with a results endpoint), drawn over this frame. */
  result?: ResultOverlay;
  /**
   * The sender's clock minus the receiving process's, µs, as measured on the wire (docs/protocol.md,
   * "Clock offsets"), and the ± bound on it; null: not measured, so latency from captureUs is uncorrected.
   */
  clockOffsetUs: number | null;
  clockUncertaintyUs: number | null;
}

/** Renderer -> backend. */
export type ClientMessage =
  | { type: 'connect'; requestId: number; request: ConnectRequest }
  | { type: 'disconnect'; requestId: number; connectionId: string }
  | { type: 'displayed'; key: string; ticket: number }
  /** A page's clock probe, its clock in epoch µs (docs/protocol.md, "Clock offsets": the browser page). */
  | { type: 'clock'; t1: number };

/** Backend -> renderer, as JSON text (frames travel separately, as binary). */
export type ServerMessage =
  | { type: 'settings'; settings: ViewerSettings }
  | { type: 'status'; update: StatusUpdate }
  | { type: 'reply'; requestId: number; ok: true; connection?: ConnectionStatus }
  | { type: 'reply'; requestId: number; ok: false; error: string }
  /** The answer to a page's clock probe: t2 when it arrived, t3 when answered, on the server's clock. */
  | { type: 'clock'; t1: number; t2: number; t3: number };

/** Names of the Electron IPC channels, one per bridge function. */
export const IPC = {
  settings: 'zerocam:settings',
  connect: 'zerocam:connect',
  disconnect: 'zerocam:disconnect',
  displayed: 'zerocam:displayed',
  frame: 'zerocam:frame',
  status: 'zerocam:status',
} as const;
