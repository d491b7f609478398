import { availableParallelism } from 'node:os';

/** Every default zerocam uses, in one place. CLIs, docs and tests read them from here. */
export const DEFAULTS = {
  senderBind: 'tcp://*:5555',
  receiverConnect: 'tcp://127.0.0.1:5555',
  senderPattern: 'pub',
  receiverPattern: 'sub',

  source: 'testsrc',
  width: 640,
  height: 480,
  fps: 30,
  quality: 80,
  /**
   * Huffman optimisation makes camera-like JPEGs 9-10% smaller for 2.3-3x sharp's encode time
   * (docs/benchmarks.md). A camera host is CPU-bound long before a LAN is bandwidth-bound.
   */
  jpegOptimiseCoding: false,
  /**
   * Encodes in flight at once; only an unthrottled sender ever has more than one. One per core
   * plus one: a finished encode holds its slot until the frames before it are sent, and the main
   * thread's share of each frame (colour conversion, sending) runs between encodes, so with one
   * per core a core idles in those gaps (docs/benchmarks.md: about 10% more fps at 720p on 2 cores).
   */
  encodeConcurrency: availableParallelism() + 1,

  /**
   * Queues hold frames, and a frame older than the newest is worth nothing to a viewer,
   * so they stay tiny: a slow peer costs skipped frames, never seconds of latency.
   */
  sendHighWaterMark: 2,
  receiveHighWaterMark: 2,
  /** Largest JPEG accepted; bigger messages are rejected (and past twice this, cut off by libzmq). */
  maxFrameBytes: 16 * 1024 * 1024,

  /** ZMTP heartbeats notice a peer that vanished without closing its connection. */
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  reconnectIntervalMs: 100,
  reconnectMaxIntervalMs: 1000,

  statsIntervalMs: 1000,
  /** fps and bytes/s are averaged over this trailing window. */
  rateWindowMs: 2000,

  /** The viewer shows a stream as stalled after this long without a frame. */
  viewerStallMs: 2000,
  viewerHost: '127.0.0.1',
  viewerPort: 8080,

  /** --health-file is rewritten this often, and called stale after this many intervals without a refresh. */
  healthIntervalMs: 1000,
  healthStaleIntervals: 5,

  saveEvery: 1,
  fsync: true,
} as const;

export type SenderPattern = 'pub' | 'push';
export type ReceiverPattern = 'sub' | 'pull';
