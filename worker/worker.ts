import { once } from 'node:events';
import * as zmq from 'zeromq';
import { DEFAULTS } from '../common/defaults';
import { describeError, ProtocolError } from '../common/errors';
import type { Logger } from '../common/log';
import { openSecuredSocket, type CurveSettings, type SecuredSocket } from '../common/sockets/curve-security';
import { COMMON_SOCKET_OPTIONS, receiveUntilClosed } from '../common/sockets/socket-options';
import { checkJpeg, type Frame } from '../common/wire/protocol';
import { decodeHubMessage, encodeWorkerMessage, MAX_RESULT_BODY_BYTES, WorkProtocolError, type WorkerMessage } from '../common/wire/work-protocol';
import type { Processor, ProcessorOutput } from './processors/processor';
import { WorkerStats, type WorkerSummary } from './worker-stats';

export interface WorkerOptions {
  /** The hub's --workers endpoint. */
  connect: string;
  processor: Processor;
  jobs: number;
  name: string;
  curve: CurveSettings;
  heartbeatMs: number;
  maxFrameBytes: number;
}

/** On SIGTERM, frames in hand get this long to finish; the rest are handed back (BYE). */
const FINISH_GRACE_MS = 500;
/** How long libzmq may take to deliver the last results and the BYE before the socket closes. */
const BYE_LINGER_MS = 300;

/** One connection to the hub: a DEALER, and what the Paranoid Pirate counts on it. */
interface Connection {
  secured: SecuredSocket<zmq.Dealer>;
  lastHeardMs: number;
  lastSentMs: number;
  /** Whether the hub has said anything on this connection yet. */
  heard: boolean;
  sends: Promise<void>;
}

/**
 * A zerocam worker: a DEALER connected to the hub's --workers ROUTER. It says HELLO with --jobs (its
 * credit), processes each WORK with its processor (up to --jobs at once) and answers RESULT, which
 * returns the credit. Heartbeats both ways (Paranoid Pirate): a hub silent for DEFAULTS.workLiveness
 * intervals, or one that says DISCONNECT, gets a fresh socket and a new HELLO; frames in hand then
 * are dropped (the hub hands them to another worker). On stop it finishes what it holds within
 * FINISH_GRACE_MS and says BYE, which hands back the rest.
 */
export class Worker {
  private readonly stats = new WorkerStats();
  private connection: Connection | undefined;
  private inHand = 0;
  private stopping = false;
  private closed = false;
  private readonly idle = new EventTarget();

  private constructor(
    private readonly options: WorkerOptions,
    private readonly log: Logger,
  ) {}

  static open(options: WorkerOptions, log: Logger): Worker {
    return new Worker(options, log);
  }

  summary(final: boolean): WorkerSummary {
    const connection = this.connection;
    const connected = connection !== undefined && connection.heard && Date.now() - connection.lastHeardMs <= this.options.heartbeatMs * DEFAULTS.workLiveness;
    return this.stats.summary({ worker: this.options.name, processor: this.options.processor.name, jobs: this.options.jobs, connected }, final);
  }

  /** Works until `signal` aborts; then finishes or hands back its frames and says BYE. */
  async run(signal: AbortSignal, onConnected?: () => void): Promise<void> {
    let first = true;
    while (!signal.aborted && !this.closed) {
      const connection = await this.connect();
      if (first) onConnected?.();
      first = false;
      const outcome = await this.serve(connection, signal);
      if (outcome === 'stop') {
        await this.leave(connection);
        return;
      }
      this.stats.timeouts++;
      connection.secured.close();
      // A hub that refuses (too many workers) is not asked again in a tight loop.
      await new Promise((resolve) => setTimeout(resolve, DEFAULTS.reconnectIntervalMs));
    }
  }

  private async connect(): Promise<Connection> {
    const secured = await openSecuredSocket(
      (curve) =>
        new zmq.Dealer({
          ...COMMON_SOCKET_OPTIONS,
          ...curve,
          sendTimeout: 0,
          receiveHighWaterMark: DEFAULTS.workMaxWorkers,
          maxMessageSize: 2 * this.options.maxFrameBytes + 64 * 1024,
        }),
      { connect: [this.options.connect] },
      { curve: this.options.curve, log: this.log },
    );
    const now = Date.now();
    const connection: Connection = { secured, lastHeardMs: now, lastSentMs: now, heard: false, sends: Promise.resolve() };
    this.connection = connection;
    this.send(connection, { kind: 'hello', processor: this.options.processor.name, worker: this.options.name, jobs: this.options.jobs });
    return connection;
  }

  /** Serves one connection until the hub goes silent or says DISCONNECT ('reconnect'), or `signal` aborts ('stop'). */
  private async serve(connection: Connection, signal: AbortSignal): Promise<'reconnect' | 'stop'> {
    const { heartbeatMs } = this.options;
    let outcome: 'reconnect' | 'stop' = 'reconnect';
    const socket = connection.secured.socket;
    // The receive loop ends when the socket closes; stopping and silence end it another way, without closing.
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const onAbort = (): void => {
      outcome = 'stop';
      wake();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setInterval(() => {
      const now = Date.now();
      if (now - connection.lastHeardMs > heartbeatMs * DEFAULTS.workLiveness) {
        this.log.warn({ event: 'hub-silent', endpoint: this.options.connect }, `the hub at ${this.options.connect} went silent; connecting again`);
        wake();
      } else if (now - connection.lastSentMs >= heartbeatMs) {
        this.send(connection, { kind: 'heartbeat' });
      }
    }, Math.max(10, heartbeatMs / 4));
    const receiving = (async () => {
      try {
        for await (const parts of receiveUntilClosed(socket)) {
          if (signal.aborted) break;
          if (this.onMessage(connection, parts) === 'disconnect') {
            wake();
            break;
          }
        }
      } catch (error) {
        if (!socket.closed) throw error;
      }
    })();
    try {
      await Promise.race([woken, receiving]);
    } finally {
      clearInterval(timer);
      signal.removeEventListener('abort', onAbort);
    }
    return signal.aborted ? 'stop' : outcome;
  }

  private onMessage(connection: Connection, parts: Buffer[]): 'disconnect' | undefined {
    connection.lastHeardMs = Date.now();
    if (!connection.heard) {
      connection.heard = true;
      this.log.info({ event: 'connected', endpoint: this.options.connect }, `the hub at ${this.options.connect} answers`);
    }
    let message;
    try {
      message = decodeHubMessage(parts, { maxFrameBytes: this.options.maxFrameBytes });
    } catch (error) {
      if (!(error instanceof WorkProtocolError) && !(error instanceof ProtocolError)) throw error;
      this.stats.rejected++;
      return undefined;
    }
    switch (message.kind) {
      case 'heartbeat':
        return undefined;
      case 'disconnect':
        this.log.warn({ event: 'disconnected', reason: message.reason }, `the hub said DISCONNECT (${message.reason}); connecting again`);
        return 'disconnect';
      case 'work':
        if (this.stopping) return undefined;
        // A hub that sends past the credit is not followed: the frames in hand stay bounded.
        if (this.inHand >= this.options.jobs) {
          this.stats.rejected++;
          return undefined;
        }
        void this.work(connection, message.job, message.frame);
        return undefined;
    }
  }

  private async work(connection: Connection, job: number, frame: Frame): Promise<void> {
    this.inHand++;
    this.stats.started();
    const started = performance.now();
    let output: ProcessorOutput;
    let processingMs: number | undefined;
    try {
      output = await this.options.processor.process({
        jpeg: frame.jpeg,
        topic: frame.topic,
        session: frame.header.session,
        seq: frame.header.seq,
        captureUs: frame.header.captureUs,
        width: frame.header.width,
        height: frame.header.height,
      });
      processingMs = performance.now() - started;
    } catch (error) {
      this.stats.errors++;
      output = { result: { error: describeError(error).slice(0, 500) } };
    }
    const elapsed = processingMs ?? performance.now() - started;
    const { body, image } = this.checked(output);
    // A result for an old connection is not sent: the hub has given those frames to another worker.
    if (this.connection === connection && !connection.secured.socket.closed) {
      this.send(connection, { kind: 'result', job, processingMs: Math.round(elapsed * 1000) / 1000, body, image });
    }
    this.stats.finished(processingMs);
    if (--this.inHand === 0) this.idle.dispatchEvent(new Event('idle'));
  }

  /** The body as JSON within the protocol's limit, and the image if it is a JPEG; otherwise an error body. */
  private checked(output: ProcessorOutput): { body: Buffer; image: Buffer | undefined } {
    let body: Buffer;
    try {
      body = Buffer.from(JSON.stringify(output.result));
    } catch (error) {
      this.stats.errors++;
      return { body: Buffer.from(JSON.stringify({ error: `the result is not JSON: ${describeError(error)}` })), image: undefined };
    }
    if (body.length > MAX_RESULT_BODY_BYTES) {
      this.stats.errors++;
      return { body: Buffer.from(JSON.stringify({ error: `the result is over ${MAX_RESULT_BODY_BYTES} bytes of JSON` })), image: undefined };
    }
    if (output.image) {
      try {
        checkJpeg(output.image, { maxFrameBytes: this.options.maxFrameBytes });
      } catch (error) {
        this.stats.errors++;
        return { body: Buffer.from(JSON.stringify({ ...output.result, imageError: describeError(error) })), image: undefined };
      }
    }
    return { body, image: output.image };
  }

  /** Finishes what it holds (up to FINISH_GRACE_MS), then BYE: the hub hands the rest to others. */
  private async leave(connection: Connection): Promise<void> {
    this.stopping = true;
    if (this.inHand > 0) {
      const grace = AbortSignal.timeout(FINISH_GRACE_MS);
      await once(this.idle, 'idle', { signal: grace }).catch(() => undefined);
    }
    this.send(connection, { kind: 'bye' });
    await connection.sends;
    const socket = connection.secured.socket;
    if (!socket.closed) socket.linger = BYE_LINGER_MS;
    connection.secured.close();
  }

  /** Sends in order, one at a time; a message libzmq cannot take now (no hub) is dropped. */
  private send(connection: Connection, message: WorkerMessage): void {
    connection.lastSentMs = Date.now();
    const socket = connection.secured.socket;
    connection.sends = connection.sends.then(
      () => (socket.closed ? undefined : socket.send(encodeWorkerMessage(message)).catch(() => undefined)),
    );
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.connection?.secured.close();
    this.options.processor.close?.();
  }
}
