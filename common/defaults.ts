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
   * --strips auto: a frame is cut into one strip per core when nothing else is encoding (a
   * camera's pace: latency falls to about one strip's encode), whole frames in parallel otherwise,
   * and whole frames too while they measure faster (other work on the cores; sender/encode/strip-plan.ts).
   */
  strips: 'auto',
  /**
   * --encoder: cv.imencode on the capture's own BGR pixels. Measured (docs/benchmarks.md, "Speed II"
   * and "Choices"): at 720p it encodes in less time than sharp's colour conversion, copy and encode
   * together, since libjpeg-turbo converts BGR itself and strips are Mat regions (no copy).
   */
  encoder: 'opencv' as EncoderName,

  /**
   * Queues hold frames, and a frame older than the newest is worth nothing to a viewer,
   * so they stay tiny: a slow peer costs skipped frames, never seconds of latency. A sender
   * queues one: on a slow link, one frame waits while one is on the wire (#11, docs/benchmarks.md).
   */
  sendHighWaterMark: 1,
  receiveHighWaterMark: 2,
  /** Largest JPEG accepted; bigger messages are rejected (and past twice this, cut off by libzmq). */
  maxFrameBytes: 16 * 1024 * 1024,

  /** ZMTP heartbeats notice a peer that vanished without closing its connection. */
  heartbeatIntervalMs: 1000,
  heartbeatTimeoutMs: 3000,
  reconnectIntervalMs: 100,
  reconnectMaxIntervalMs: 1000,
  /** The host names of --connect endpoints are looked up again this often, to warn of one that stopped resolving. */
  hostNameRecheckMs: 10_000,

  statsIntervalMs: 1000,
  /** fps and bytes/s are averaged over this trailing window. */
  rateWindowMs: 2000,

  /**
   * Per-stream state is bounded (--stream-ttl, --max-streams): anyone can make up topics, and a
   * recreated camera container gets a new default one, so without bounds they add up for months.
   * A stream that sent nothing for this long is forgotten (its stats, cached frame, metrics series).
   * (With --http, a hub's discovery asks every camera for a frame each --discovery-interval, so
   * cameras nobody watches stay listed.)
   */
  streamTtlMs: 5 * 60_000,
  /** Streams tracked at once: a frame of a new stream beyond this is refused (dropped and counted). */
  maxStreams: 1000,
  /** Past this many streams, the live stats line shows totals, the busiest few and "+N more". */
  statsLineStreams: 8,
  /** Live JSON stats lines (stdout piped) list this many streams at most, the busiest, with the total count. */
  statsJsonStreams: 32,

  /** The viewer shows a stream as stalled after this long without a frame. */
  viewerStallMs: 2000,
  viewerHost: '127.0.0.1',
  viewerPort: 8080,

  /** --health-file is rewritten this often, and called stale after this many intervals without a refresh. */
  healthIntervalMs: 1000,
  healthStaleIntervals: 5,
  /** zerocam-hub: senders --connect to the first, receivers and viewers connect to the second as to a sender. */
  hubSenders: 'tcp://*:5556',
  hubReceivers: 'tcp://*:5555',
  hubPattern: 'pubsub',
  /**
   * Frames queued per receiver at the hub. One pipe carries every stream a receiver takes, so it must
   * hold a burst of one frame from each camera (8-24 in a fleet), not just the newest of one. 'auto'
   * is hubPubsubHighWaterMark or hubPipelineHighWaterMark, set once before the receivers' socket
   * binds: libzmq 4.3.5 cannot safely change it while receivers come and go (hub/forwarder.ts).
   */
  hubSendHighWaterMark: 'auto' as number | 'auto',
  /**
   * --hwm auto with --pattern pubsub: 2N - 2 for N = 6 live streams (common/burst-high-water-mark.ts),
   * so a burst of one frame from each of up to 6 cameras waits whole. More frames cost a viewer on a
   * slow link lag (a fixed 32 let one lag 2 s behind one camera at 2 Mbit/s, #11); a hub with more
   * cameras, or one camera and slow viewers, sets --hwm.
   */
  hubPubsubHighWaterMark: 10,
  /**
   * --hwm auto with --pattern pipeline: PUSH pipes accepted after a change would keep the old HWM (no
   * subscription comes to re-apply it), so a pipeline hub keeps a fixed queue per worker, sized for
   * a burst from each camera of a fleet.
   */
  hubPipelineHighWaterMark: 32,
  /** The hub's web gateway (--http PORT) listens here unless --http-host says otherwise. */
  httpHost: '127.0.0.1',
  /**
   * The hub's gateway watches streams only on use (an MJPEG client, a snapshot), so cameras nobody
   * watches idle (#10). To list streams it has not seen, it asks for every stream this often, for
   * this long: each idle camera sends a frame or two (its first comes within two frame intervals).
   */
  hubDiscoveryIntervalMs: 10_000,
  hubDiscoveryPulseMs: 1_000,
  /** A snapshot of a stream with no fresh frame waits this long for one, then serves the newest it has. */
  snapshotWaitMs: 2_000,

  /**
   * Denied CURVE clients are logged once per key and address; past this many, a flood of fresh
   * keys is only counted, so it can neither fill the log nor grow memory.
   */
  curveDeniedPeersLogged: 1000,

  /**
   * #18, workers: the hub binds --workers (ROUTER) for zerocam-worker and --results (XPUB) for
   * receivers and viewers that want results; neither is opened without --workers.
   */
  hubWorkers: 'tcp://*:5557',
  hubResults: 'tcp://*:5558',
  workMode: 'live' as WorkMode,
  /** every: a frame out at a worker this long is handed to another (live: only counted as a timeout). */
  workTimeoutMs: 10_000,
  /** every: frames the hub keeps (queued, out at workers, results waiting for order) before it stops taking more. */
  workQueueFrames: 32,
  /** Paranoid Pirate: each side sends a heartbeat after this long without sending, and gives the other up after `workLiveness` of them unheard. */
  workHeartbeatMs: 1000,
  workLiveness: 3,
  /** live: results wait for a lower seq at most this many per stream, and this long; later ones are late. */
  workReorderResults: 16,
  workReorderMs: 500,
  /** every: a frame whose worker died or timed out this many times is given up (counted as failed). */
  workMaxAttempts: 3,
  /** Workers one hub keeps; a HELLO past it is told DISCONNECT. */
  workMaxWorkers: 256,
  /** zerocam-worker --jobs: frames in flight per worker process. */
  workerJobs: 1,
  workerConnect: 'tcp://127.0.0.1:5557',

  saveEvery: 1,
  fsync: true,
  /** --format: a JPEG file per frame, as zerocam always saved; `segments` writes video files. */
  recordFormat: 'jpeg' as RecordFormat,
  /** --segment-seconds: capture time one video segment covers. A minute is a file a person can scrub through. */
  segmentSeconds: 60,
  /**
   * --save-queue: frames waiting for the disk, all streams together. It must hold what arrives
   * while one commit's fsync runs: 8 streams at 30 fps for a window plus a slow fsync (docs/benchmarks.md,
   * "Recorder"); past it the oldest waiting frame is skipped, so the newest still wins.
   */
  saveQueueFrames: 64,
  /**
   * --fsync-interval: one fsync commits every frame written within this window. 0 commits each
   * frame on its own (the old path). A frame is reported saved, acknowledged and indexed only after
   * its commit, so this is also the most a saved frame's report waits.
   */
  fsyncIntervalMs: 50,
  /** --max-bytes / --max-age are checked after a commit at most this often (a whole file or more leaves at once). */
  retentionCheckMs: 1000,

  /** Acknowledged delivery (REQ/REP): how long a REQ sender waits for a reply before it reopens its socket. */
  replyTimeoutMs: 2000,
  wire: 'zerocam',
  /** What a REP receiver answers for an accepted frame; imagezmq's hubs answer the same. */
  replyAccepted: 'OK',
  /** imagezmq's part 1 is a short JSON object; anything longer is malformed, not a frame. */
  imagezmqMaxMetadataBytes: 64 * 1024,
  /** A connecting socket whose peer vanished without libzmq scheduling a reconnect is redialled after this. */
  redialCheckMs: 200,

  /**
   * Bounded lag on slow links (#11): the kernel's TCP buffers (SO_SNDBUF/SO_RCVBUF) of every zerocam
   * socket. Linux's defaults hold several 720p frames, which a slow link drains for seconds; 16 KiB
   * (Linux doubles it) holds less than one. The price: TCP keeps at most about that much in flight,
   * so one connection carries at most ~32 KiB per round trip (260 Mbit/s at 1 ms, 6.5 Mbit/s at 40 ms).
   * Sockets that only reach this host (ipc, loopback) keep the kernel's defaults (common/sockets/socket-options.ts).
   */
  socketBufferBytes: 16 * 1024,
  /** A zerocam SUB receiver reports what it got from each stream upstream this often (docs/protocol.md). */
  linkReportIntervalMs: 500,
  /** A sender forgets a receiver that has not reported for this long (it left, or is not zerocam). */
  linkReportExpiryMs: 3000,
  /** A receiver that gets fewer than this share of the frames sent is link-limited. */
  linkLimitedShare: 0.9,
  /** --adapt: the lowest JPEG quality it goes down to before it scales frames down. */
  minQuality: 30,
  /** --adapt: quality steps down (link-limited) and up (not) by this, once per link report. */
  adaptQualityStep: 10,
  /** --adapt: below the quality floor, frames shrink by this factor per step, down to minScale. */
  adaptScaleStep: 0.75,
  adaptMinScale: 0.25,
  /** #8, the web surface: random bytes in a generated --token (base64url). */
  webTokenBytes: 24,
  /** Largest WebSocket message a page may send; past it the connection closes with 1009. */
  webMaxMessageBytes: 64 * 1024,
  /** Viewer pages (WebSocket feeds) open at once, in all and per client address. */
  webMaxPages: 16,
  webMaxPagesPerClient: 4,
  /** ZeroMQ connections one page may open; with the page limits this bounds the descriptors a browser can cost. */
  webMaxConnectionsPerPage: 8,
} as const;

/** --work-mode: newest-frame-wins processing, or every frame exactly once (#18). */
export type WorkMode = 'live' | 'every';
/** --encoder: which library turns frames into JPEG (sender/encode/frame-encoder.ts). */
export type EncoderName = 'opencv' | 'sharp';
export type SenderPattern = 'pub' | 'push';
export type ReceiverPattern = 'sub' | 'pull';
/** Acknowledged delivery: a REQ sender waits for each frame's reply from a REP receiver. */
export type RequestPattern = 'req';
export type ReplyPattern = 'rep';
/** zerocam's own three-part format, or imagezmq's two-part one (docs/protocol.md). */
export type Wire = 'zerocam' | 'imagezmq';

/** --format: how a recorder lays frames out on disk (receiver/record/). */
export type RecordFormat = 'jpeg' | 'segments';
