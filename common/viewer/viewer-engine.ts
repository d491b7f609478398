import { nowMicros } from '../clock';
import { NewestWaits } from '../newest-waits';
import type { CurveKeyPair } from '../sockets/curve-keys';
import { DEFAULTS } from '../defaults';
import { ShuttingDownError } from '../errors';
import { JpegReceiver } from '../sockets/jpeg-receiver';
import { createLogger, type Logger } from '../log';
import { ReceiverStats } from '../stats/receiver-stats';
import { warnOnFirstRefusal, type StreamLimits } from '../stats/stream-bounds';
import { logClockNews } from '../stats/clock-news';
import { StreamStats } from '../stats/stream-stats';
import { LatencyHistogram } from '../stats/latency-histogram';
import { RateWindow } from '../stats/rate-window';
import { resultBoxes } from '../wire/result-protocol';
import { ResultsFeed, type DecodedResult } from '../sockets/results-feed';
import type { ConnectionStatus, ConnectRequest, FrameMeta, ResultOverlay, ResultStats, StatusUpdate, StreamState, StreamStatus } from './viewer-messages';

/** Where frames and status go: a renderer, over Electron IPC or a WebSocket. */
export interface FrameSink {
  frame(meta: FrameMeta, jpeg: Buffer): void;
  status(update: StatusUpdate): void;
}

export interface ViewerEngineOptions {
  /** A stream with no frame for this long is shown as stalled. */
  stallAfterMs?: number;
  statusIntervalMs?: number;
  maxFrameBytes?: number;
  /** The viewer's own CURVE key (--curve-key) for connections with a server key; without it each gets a fresh one. Stays in this process. */
  curveKey?: CurveKeyPair | undefined;
  /** Where CURVE handshake problems (and refused streams) are logged. */
  log?: Logger;
  /** --stream-ttl, --max-streams, per connection: a stream forgotten by its stats leaves the status (and the page) too. */
  streamLimits?: StreamLimits | undefined;
}

interface Delivery {
  ticket: number;
  meta: FrameMeta;
  jpeg: Buffer;
}

interface Stream {
  key: string;
  topic: string;
  state: StreamState;
  lastReceiveMs: number;
  nextTicket: number;
  /** At most one frame in flight to the renderer; it acknowledges each once painted. */
  readonly toScreen: NewestWaits<Delivery>;
  /** With a results endpoint: the newest result, drawn over each frame sent, and its stats. */
  results?: StreamResults;
}

interface StreamResults {
  newest: ResultOverlay;
  processor: string;
  rate: RateWindow;
  processing: LatencyHistogram;
  processingP50Ms: number;
  ageMs: number | undefined;
  /** The camera clock's uncertainty behind a corrected ageMs. */
  ageUncertaintyMs: number | undefined;
}

interface Connection {
  id: string;
  request: ConnectRequest;
  receiver: JpegReceiver;
  results: ResultsFeed | undefined;
  stats: ReceiverStats;
  streams: Map<string, Stream>;
}

const TICK_MS = 250;
/** The stats of a stream that has none yet (asked for by name, no frame so far): all zeros. */
const NO_FRAMES = new StreamStats(DEFAULTS.rateWindowMs);

/**
 * The viewer's engine, free of Electron: owns one receiving socket per connection, keeps each
 * stream's stats and state (waiting, live, stalled), and forwards frames to one renderer with
 * at most one undisplayed frame per stream in flight.
 */
export class ViewerEngine {
  private readonly connections = new Map<string, Connection>();
  private readonly stallAfterMs: number;
  private readonly statusIntervalMs: number;
  private readonly maxFrameBytes: number;
  private readonly curveKey: CurveKeyPair | undefined;
  private readonly log: Logger;
  private readonly streamLimits: StreamLimits | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly receiveLatency = new Map<string, { p50: number; p99: number }>();
  private lastStatsMs = 0;
  private nextConnectionId = 1;
  private closed = false;

  constructor(
    private readonly sink: FrameSink,
    options: ViewerEngineOptions = {},
  ) {
    this.stallAfterMs = options.stallAfterMs ?? DEFAULTS.viewerStallMs;
    this.statusIntervalMs = options.statusIntervalMs ?? DEFAULTS.statsIntervalMs;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
    this.curveKey = options.curveKey;
    this.log = options.log ?? createLogger('zerocam-viewer');
    this.streamLimits = options.streamLimits;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  async connect(request: ConnectRequest): Promise<ConnectionStatus> {
    if (this.closed) throw new ShuttingDownError('the viewer is shutting down');
    const receiver = await JpegReceiver.open({
      pattern: request.pattern,
      attachment: { connect: [request.endpoint] },
      topics: request.topics,
      maxFrameBytes: this.maxFrameBytes,
      wire: request.wire,
      security: request.serverKey === undefined ? undefined : { curve: { key: this.curveKey, serverKey: request.serverKey }, log: this.log },
      streamLimits: this.streamLimits,
    });
    let results: ResultsFeed | undefined;
    try {
      results = request.results
        ? await ResultsFeed.open(request.results, request.topics, this.maxFrameBytes, request.serverKey === undefined ? undefined : { curve: { key: this.curveKey, serverKey: request.serverKey }, log: this.log })
        : undefined;
    } catch (error) {
      receiver.close();
      throw error;
    }
    if (this.closed) {
      // The page went away while the socket was being opened.
      receiver.close();
      results?.close();
      throw new ShuttingDownError('the viewer is shutting down');
    }
    const connection: Connection = {
      id: `c${this.nextConnectionId++}`,
      request,
      receiver,
      results,
      stats: new ReceiverStats(DEFAULTS.rateWindowMs, this.streamLimits),
      streams: new Map(),
    };
    connection.stats.bounds.onForget((topic) => this.forget(connection, topic));
    warnOnFirstRefusal(connection.stats.bounds, this.log, `${request.endpoint}: `);
    connection.stats.onClockNews((topic, news) => logClockNews(this.log, topic, news, `${request.endpoint}: `));
    for (const topic of request.topics) this.stream(connection, topic);
    this.connections.set(connection.id, connection);
    void this.receive(connection);
    void results?.run((result) => this.onResult(connection, result));
    this.publish(false);
    return this.connectionStatus(connection);
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  disconnect(connectionId: string): boolean {
    const connection = this.connections.get(connectionId);
    if (!connection) return false;
    connection.receiver.close();
    connection.stats.bounds.close();
    connection.results?.close();
    this.connections.delete(connectionId);
    this.publish(false);
    return true;
  }

  /** The renderer painted a frame: send that stream's newest waiting frame, if any. */
  displayed(key: string, ticket: number): void {
    const stream = this.findStream(key);
    const next = stream?.toScreen.finish((inFlight) => inFlight.ticket === ticket);
    if (next) this.sink.frame(next.meta, next.jpeg);
  }

  status(): StatusUpdate {
    const connections = [...this.connections.values()].map((c) => this.connectionStatus(c));
    const streams = [...this.connections.values()].flatMap((c) => [...c.streams.values()].map((s) => this.streamStatus(c, s)));
    return { connections, streams };
  }

  /** Closes every socket and stops the timer. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const connection of this.connections.values()) {
      connection.receiver.close();
      connection.stats.bounds.close();
      connection.results?.close();
    }
    this.connections.clear();
  }

  /** A result for a stream this connection shows: kept as its newest, for the next frame sent. */
  private onResult(connection: Connection, result: DecodedResult): void {
    const { topics } = connection.request;
    if (topics.length > 0 && !topics.includes(result.topic)) return;
    const stream = this.stream(connection, result.topic);
    const { header } = result;
    const nowMs = Date.now();
    stream.results ??= { newest: { seq: 0, processor: '', worker: '', boxes: [] }, processor: '', rate: new RateWindow(DEFAULTS.rateWindowMs), processing: new LatencyHistogram(), processingP50Ms: 0, ageMs: undefined, ageUncertaintyMs: undefined };
    const mine = stream.results;
    mine.newest = { seq: header.seq, processor: header.processor, worker: header.worker, boxes: resultBoxes(result.bodyJson) };
    mine.processor = header.processor;
    mine.rate.record(nowMs);
    mine.processing.recordMicros(header.processingMs * 1000);
    // captureUs is on the camera's clock: the frames' clock exchanges say how far it is from ours.
    const nowUs = nowMicros();
    const clock = connection.receiver.clockEstimate(result.topic, nowUs);
    mine.ageMs = header.captureUs === 0 ? undefined : (nowUs - header.captureUs + (clock?.offsetUs ?? 0)) / 1000;
    mine.ageUncertaintyMs = clock && clock.uncertaintyUs / 1000;
  }

  private async receive(connection: Connection): Promise<void> {
    for await (const received of connection.receiver) {
      if (received.kind === 'rejected') {
        connection.stats.onRejected(received.error.reason);
        continue;
      }
      const { frame, receiveUs, clock } = received;
      if (!connection.stats.onFrame(frame, receiveUs, clock)) continue;
      const stream = this.stream(connection, frame.topic);
      stream.lastReceiveMs = Date.now();
      const ticket = stream.nextTicket++;
      const { header } = frame;
      const delivery: Delivery = {
        ticket,
        jpeg: frame.jpeg,
        meta: {
          key: stream.key,
          ticket,
          topic: frame.topic,
          connectionId: connection.id,
          session: header.session,
          seq: header.seq,
          captureUs: header.captureUs,
          sendUs: header.sendUs,
          replay: header.replay === true,
          receiveUs,
          width: header.width,
          height: header.height,
          ...(stream.results && { result: stream.results.newest }),
          clockOffsetUs: clock ? Math.round(clock.offsetUs) : null,
          clockUncertaintyUs: clock ? Math.round(clock.uncertaintyUs) : null,
        },
      };
      const now = stream.toScreen.offer(delivery);
      if (now) this.sink.frame(now.meta, now.jpeg);
      if (stream.state !== 'live') {
        stream.state = 'live';
        this.publish(false);
      }
    }
  }

  private stream(connection: Connection, topic: string): Stream {
    let stream = connection.streams.get(topic);
    if (!stream) {
      stream = { key: `${connection.id}/${topic}`, topic, state: 'waiting', lastReceiveMs: 0, nextTicket: 1, toScreen: new NewestWaits<Delivery>() };
      connection.streams.set(topic, stream);
    }
    return stream;
  }

  /** A stream its stats forgot (--stream-ttl): it leaves the status, unless it was asked for by name (then it waits again). */
  private forget(connection: Connection, topic: string): void {
    const stream = connection.streams.get(topic);
    if (!stream) return;
    this.receiveLatency.delete(stream.key);
    if (connection.request.topics.includes(topic)) {
      stream.state = 'waiting';
      stream.toScreen.reset();
    } else {
      connection.streams.delete(topic);
    }
  }

  private findStream(key: string): Stream | undefined {
    const slash = key.indexOf('/');
    return this.connections.get(key.slice(0, slash))?.streams.get(key.slice(slash + 1));
  }

  private tick(): void {
    const now = Date.now();
    for (const connection of this.connections.values()) {
      for (const stream of connection.streams.values()) {
        if (stream.state === 'live' && now - stream.lastReceiveMs > this.stallAfterMs) stream.state = 'stalled';
      }
    }
    this.publish(now - this.lastStatsMs >= this.statusIntervalMs);
  }

  /**
   * Sends status to the renderer. Rates and counts are read fresh each time; latency percentiles
   * come from a histogram that restarts on each reading, so they are read once per interval.
   */
  private publish(readLatency: boolean): void {
    if (this.closed) return;
    if (readLatency) {
      const now = Date.now();
      this.lastStatsMs = now;
      for (const connection of this.connections.values()) {
        for (const [topic, summary] of Object.entries(connection.stats.live(now).streams)) {
          this.receiveLatency.set(`${connection.id}/${topic}`, { p50: summary.latencyMs.p50, p99: summary.latencyMs.p99 });
        }
        for (const stream of connection.streams.values()) {
          if (!stream.results || stream.results.processing.count === 0) continue;
          stream.results.processingP50Ms = stream.results.processing.percentilesMs().p50;
          stream.results.processing.reset();
        }
      }
    }
    this.sink.status(this.status());
  }

  private streamStatus(connection: Connection, stream: Stream): StreamStatus {
    const summary = (connection.stats.find(stream.topic) ?? NO_FRAMES).summary(Date.now());
    return {
      key: stream.key,
      connectionId: connection.id,
      topic: stream.topic,
      state: stream.state,
      width: summary.width,
      height: summary.height,
      frames: summary.frames,
      receivedFps: summary.fps,
      bytesPerSecond: summary.bytesPerSecond,
      receiveLatencyMs: this.receiveLatency.get(stream.key) ?? { p50: 0, p99: 0 },
      dropped: summary.dropped,
      skipped: stream.toScreen.skipped,
      rejected: connection.stats.rejected,
      ...(stream.results && { results: resultStats(stream.results) }),
    };
  }

  private connectionStatus(connection: Connection): ConnectionStatus {
    const states = [...connection.streams.values()].map((s) => s.state);
    const state: StreamState = states.includes('live') ? 'live' : states.includes('stalled') ? 'stalled' : 'waiting';
    const { endpoint, pattern, topics, serverKey, results } = connection.request;
    return { id: connection.id, endpoint, pattern, topics, ...(serverKey === undefined ? {} : { serverKey }), ...(results === undefined ? {} : { results }), state };
  }
}

function resultStats(results: StreamResults): ResultStats {
  return {
    perSecond: results.rate.rates(Date.now()).perSecond,
    processingP50Ms: results.processingP50Ms,
    ageMs: results.ageMs === undefined ? undefined : Math.round(results.ageMs * 10) / 10,
    ageUncertaintyMs: results.ageUncertaintyMs === undefined ? undefined : Math.round(results.ageUncertaintyMs * 100) / 100,
    processor: results.processor,
  };
}
