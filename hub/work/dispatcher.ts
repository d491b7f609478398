import * as zmq from 'zeromq';
import { nowMicros } from '../../common/clock';
import { DEFAULTS, type WorkMode } from '../../common/defaults';
import type { Logger } from '../../common/log';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from '../../common/sockets/curve-security';
import { COMMON_SOCKET_OPTIONS, isWouldBlock, receiveUntilClosed } from '../../common/sockets/socket-options';
import type { Frame } from '../../common/wire/protocol';
import { encodeResult, type WorkResult } from '../../common/wire/result-protocol';
import { decodeWorkerMessage, encodeHubMessage, encodeWork, MAX_WORKER_JOBS, WorkProtocolError, type WorkerMessage, type WorkerResultMessage } from '../../common/wire/work-protocol';
import { Outbox } from './outbox';
import { ResultOrder } from './result-order';
import { WorkStats, type WorkSummary } from './work-stats';

export interface WorkOptions {
  /** Bound for workers (ROUTER). */
  workers: string;
  /** Bound for receivers of results (XPUB). */
  results: string;
  mode: WorkMode;
  /** Only these streams are processed (exact topics); all when undefined. */
  topics?: readonly string[] | undefined;
  /** One frame in N of each stream is processed. */
  every: number;
  /** --affinity stream: each stream stays on one worker while it lives. */
  affinity: boolean;
  timeoutMs: number;
  queueFrames: number;
  heartbeatMs: number;
  maxFrameBytes: number;
  workersSecurity?: SocketSecurityOptions | undefined;
  resultsSecurity?: SocketSecurityOptions | undefined;
}

/** One frame taken for processing. every: kept until its result (or given up); live: until dispatched. */
interface Ticket {
  topic: string;
  stream: string;
  session: number;
  seq: number;
  captureUs: number;
  parts: readonly Buffer[];
  done: boolean;
  attempts: number;
  /** Jobs of this ticket out at workers now. */
  out: number;
}

interface Job {
  id: number;
  ticket: Ticket;
  worker: WorkerState;
  sentMs: number;
  /** performance.now() at dispatch, for the work path's own cost (Date.now()'s milliseconds are too coarse). */
  sentAt: number;
  timedOut: boolean;
}

interface WorkerState {
  key: string;
  identity: Buffer;
  name: string;
  processor: string;
  credit: number;
  jobs: Set<number>;
  lastHeardMs: number;
  lastSentMs: number;
  lastDispatchMs: number;
  topics: Set<string>;
}

const BANNED_KEPT = 1024;
/** Streams whose frames --work-every counts; past it the oldest count is forgotten (it restarts at the stream's next frame). */
const COUNTED_STREAMS = 10_000;
const TICK_MS = 50;
/** Result subscriptions tracked one by one; past this many every result is sent (XPUB filters them itself). */
const MAX_RESULT_PREFIXES = 1024;

/**
 * The hub's work side (#18): the ZeroMQ guide's load-balancing broker with credit. Workers connect
 * a DEALER to the ROUTER on --workers and say HELLO with the frames they can hold; each WORK spends
 * one credit, each RESULT gives it back. Frames go only to workers with credit, so a slow worker
 * gets fewer, and never a queue of stale ones.
 *
 * live:  one frame waits per stream, the newest (a newer one replaces it: skipped). An idle worker
 *        takes the waiting frame that has waited longest. A worker's death loses its frames (abandoned).
 * every: frames queue in order, up to --work-queue held in all; offer() then holds the intake
 *        until there is room (back-pressure: a REQ sender gets its OK only once the hub has room).
 *        A frame whose worker dies (heartbeats, or the disconnect seen by the ROUTER), leaves or
 *        times out goes to another; the first result wins, later ones are duplicates.
 *
 * Results leave on --results (XPUB) per stream in seq order (result-order.ts). It owns both sockets.
 */
export class WorkDispatcher {
  private readonly workers = new Map<string, WorkerState>();
  private readonly jobs = new Map<number, Job>();
  private nextJob = 1;
  /** live: the newest frame of each stream no worker has taken yet. */
  private readonly waiting = new Map<string, Ticket>();
  /** every: frames in order, not out at a worker now. */
  private queue: Ticket[] = [];
  /** every: frames held (queued, out, or with a result waiting for order). */
  private heldFrames = 0;
  private readonly roomWaiters: Array<() => void> = [];
  private readonly frameCounts = new Map<string, number>();
  /** --affinity stream: the worker each stream is on, and streams whose worker is gone (to count the move). */
  private readonly affinity = new Map<string, WorkerState>();
  private readonly orphaned = new Set<string>();
  private readonly banned = new Set<string>();
  /** What receivers of results subscribe to (XPUB reports each prefix's first subscribe and last unsubscribe). */
  private readonly resultPrefixes = new Set<string>();
  private readonly stats = new WorkStats();
  private readonly order: ResultOrder<WorkResult & { seq: number }>;
  private readonly workOutbox: Outbox;
  private readonly resultOutbox: Outbox;
  private readonly topics: ReadonlySet<string> | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly options: WorkOptions,
    private readonly router: SecuredSocket<zmq.Router>,
    private readonly publisher: SecuredSocket<zmq.XPublisher>,
    private readonly log: Logger,
  ) {
    this.topics = options.topics ? new Set(options.topics) : undefined;
    this.order = new ResultOrder(
      { mode: options.mode, maxHeld: DEFAULTS.workReorderResults, maxHeldMs: DEFAULTS.workReorderMs },
      (result) => this.publish(result),
    );
    this.workOutbox = new Outbox(router.socket, (message, error) => this.onSendFailed(message, error));
    this.resultOutbox = new Outbox(publisher.socket, () => undefined);
    router.socket.events.on('disconnect', () => this.probeWorkers());
  }

  static async open(options: WorkOptions, log: Logger): Promise<WorkDispatcher> {
    const router = await openSecuredSocket(
      (curve) =>
        new zmq.Router({
          ...COMMON_SOCKET_OPTIONS,
          ...curve,
          mandatory: true,
          sendTimeout: 0,
          // Credit bounds what goes to each worker; the HWM only has to hold it.
          sendHighWaterMark: MAX_WORKER_JOBS * 4,
          receiveHighWaterMark: 1000,
          maxMessageSize: 2 * options.maxFrameBytes + 128 * 1024,
        }),
      { bind: options.workers },
      options.workersSecurity,
    );
    try {
      const publisher = await openSecuredSocket(
        (curve) => new zmq.XPublisher({ ...COMMON_SOCKET_OPTIONS, ...curve, sendTimeout: 0, sendHighWaterMark: 64 }),
        { bind: options.results },
        options.resultsSecurity,
      );
      return new WorkDispatcher(options, router, publisher, log);
    } catch (error) {
      router.close();
      throw error;
    }
  }

  get workersEndpoint(): string {
    return this.router.endpoint;
  }

  get resultsEndpoint(): string {
    return this.publisher.endpoint;
  }

  /**
   * The forwarder's hook: each new frame. Resolves at once, except in every mode while the hub holds
   * --work-queue frames: then once there is room, which holds the intake (back-pressure).
   */
  offer(frame: Frame, parts: readonly Buffer[]): Promise<void> | undefined {
    if (this.closed || (this.topics && !this.topics.has(frame.topic))) return undefined;
    const count = (this.frameCounts.get(frame.topic) ?? 0) + 1;
    this.frameCounts.set(frame.topic, count);
    if (this.frameCounts.size > COUNTED_STREAMS) this.frameCounts.delete(this.frameCounts.keys().next().value!);
    if ((count - 1) % this.options.every !== 0) return undefined;
    this.stats.counters.offered++;
    const { topic, header } = frame;
    const ticket: Ticket = {
      topic,
      stream: `${topic}/${header.session}`,
      session: header.session,
      seq: header.seq,
      captureUs: header.captureUs,
      parts,
      done: false,
      attempts: 0,
      out: 0,
    };
    if (this.options.mode === 'live') {
      if (this.waiting.delete(topic)) this.stats.counters.skipped++;
      this.waiting.set(topic, ticket);
      this.dispatch();
      return undefined;
    }
    this.queue.push(ticket);
    this.heldFrames++;
    this.order.dispatched(ticket.stream, ticket.seq);
    this.dispatch();
    if (this.heldFrames <= this.options.queueFrames) return undefined;
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Handles workers until close(). */
  async run(): Promise<void> {
    this.ticker = setInterval(() => this.tick(Date.now()), TICK_MS);
    const discard = (async () => {
      // Subscriptions to results: read (XPUB queues them otherwise) and logged, so whoever waits for one knows it arrived.
      for await (const [message] of receiveUntilClosed(this.publisher.socket)) {
        if (message?.[0] === 1) {
          const prefix = message.toString('latin1', 1);
          if (this.resultPrefixes.size < MAX_RESULT_PREFIXES) this.resultPrefixes.add(prefix);
          this.log.info({ event: 'results-subscribed', prefix: prefix.slice(0, 64) }, `a receiver subscribed to results${prefix ? ` of ${prefix.slice(0, 64)}` : ''}`);
        } else if (message?.[0] === 0) {
          this.resultPrefixes.delete(message.toString('latin1', 1));
        }
      }
    })();
    try {
      for await (const [identity, ...parts] of receiveUntilClosed(this.router.socket)) {
        if (identity) this.onMessage(identity, parts, Date.now());
      }
      await discard;
    } finally {
      this.close();
    }
  }

  summary(): WorkSummary {
    const workers = [...this.workers.values()].map((w) => ({ processor: w.processor, busy: w.jobs.size > 0 }));
    this.stats.counters.late = this.order.late;
    return this.stats.summary(this.options.mode, workers, this.heldFrames, Date.now());
  }

  private onMessage(identity: Buffer, parts: Buffer[], nowMs: number): void {
    const key = identity.toString('hex');
    if (this.banned.has(key)) {
      this.stats.counters.garbage++;
      return;
    }
    let message: WorkerMessage;
    try {
      message = decodeWorkerMessage(parts, { maxFrameBytes: this.options.maxFrameBytes });
    } catch (error) {
      if (!(error instanceof WorkProtocolError)) throw error;
      const worker = this.workers.get(key);
      if (error.reason === 'result' && worker) {
        this.stats.counters.malformed++;
        worker.lastHeardMs = nowMs;
        this.log.warn({ event: 'malformed-result', worker: worker.name }, `dropped a malformed result from worker ${worker.name}: ${error.message}`);
        this.returnMalformed(worker, parts);
        return;
      }
      this.stats.counters.garbage++;
      this.ban(key, identity, worker, error.message);
      return;
    }
    const worker = this.workers.get(key);
    if (message.kind === 'hello') {
      this.onHello(key, identity, message, worker, nowMs);
      return;
    }
    if (!worker) {
      // A worker the hub does not know (the hub restarted, or gave it up): it must say HELLO again.
      this.send(identity, encodeHubMessage({ kind: 'disconnect', reason: 'unknown worker: say HELLO' }), undefined);
      return;
    }
    worker.lastHeardMs = nowMs;
    switch (message.kind) {
      case 'credit':
        worker.credit = Math.min(worker.credit + message.credit, MAX_WORKER_JOBS - worker.jobs.size);
        this.dispatch();
        break;
      case 'heartbeat':
        break;
      case 'bye':
        this.log.info({ event: 'worker-left', worker: worker.name }, `worker ${worker.name} left`);
        this.lose(worker, nowMs);
        break;
      case 'result':
        this.onResult(worker, message, nowMs);
        break;
    }
  }

  private onHello(key: string, identity: Buffer, hello: Extract<WorkerMessage, { kind: 'hello' }>, known: WorkerState | undefined, nowMs: number): void {
    if (known) this.lose(known, nowMs);
    if (this.workers.size >= DEFAULTS.workMaxWorkers) {
      this.send(identity, encodeHubMessage({ kind: 'disconnect', reason: 'too many workers' }), undefined);
      return;
    }
    const worker: WorkerState = {
      key,
      identity,
      name: hello.worker,
      processor: hello.processor,
      credit: hello.jobs,
      jobs: new Set(),
      lastHeardMs: nowMs,
      lastSentMs: nowMs,
      lastDispatchMs: 0,
      topics: new Set(),
    };
    this.workers.set(key, worker);
    this.log.info({ event: 'worker-joined', worker: hello.worker, processor: hello.processor, jobs: hello.jobs }, `worker ${hello.worker} (${hello.processor}, ${hello.jobs} jobs) joined`);
    if (this.options.affinity) this.rebalance(worker);
    this.dispatch();
  }

  private onResult(worker: WorkerState, message: WorkerResultMessage, nowMs: number): void {
    const job = this.jobs.get(message.job);
    if (!job || job.worker !== worker) {
      // Never dispatched, or not to this worker (any more): its frame is answered or out elsewhere.
      if (message.job >= this.nextJob || message.job < 1) this.stats.counters.unknown++;
      else this.stats.counters.duplicates++;
      return;
    }
    this.finishJob(job);
    worker.credit = Math.min(worker.credit + 1, MAX_WORKER_JOBS - worker.jobs.size);
    const { ticket } = job;
    if (ticket.done) {
      this.stats.counters.duplicates++;
    } else {
      ticket.done = true;
      this.stats.onResult(worker.processor, message.processingMs, performance.now() - job.sentAt, nowMs);
      const result = {
        topic: ticket.topic,
        seq: ticket.seq,
        header: {
          session: ticket.session,
          seq: ticket.seq,
          captureUs: ticket.captureUs,
          processor: worker.processor,
          worker: worker.name,
          processingMs: Math.round(message.processingMs * 1000) / 1000,
          resultUs: nowMicros(),
        },
        body: message.body,
        image: message.image,
      };
      this.order.completed(ticket.stream, result, nowMs);
      this.stats.counters.late = this.order.late;
    }
    this.dispatch();
  }

  /** A malformed RESULT still frees its job: the frame goes to another worker (every) and the credit comes back. */
  private returnMalformed(worker: WorkerState, parts: readonly Buffer[]): void {
    const id = Number(parts[2]?.toString('latin1'));
    const job = Number.isSafeInteger(id) ? this.jobs.get(id) : undefined;
    if (!job || job.worker !== worker) return;
    this.finishJob(job);
    worker.credit = Math.min(worker.credit + 1, MAX_WORKER_JOBS - worker.jobs.size);
    this.retry(job.ticket, Date.now());
    this.dispatch();
  }

  private finishJob(job: Job): void {
    this.jobs.delete(job.id);
    job.worker.jobs.delete(job.id);
    job.ticket.out--;
  }

  /** every: a frame the hub no longer holds (its result published, or given up) makes room. */
  private release(): void {
    if (this.options.mode !== 'every') return;
    this.heldFrames--;
    while (this.heldFrames <= this.options.queueFrames && this.roomWaiters.length > 0) this.roomWaiters.shift()!();
  }

  /** A job that will bring no result: every mode queues its frame again (at the front), live abandons it. */
  private retry(ticket: Ticket, nowMs: number): void {
    if (ticket.done || ticket.out > 0) return;
    if (this.options.mode === 'live') {
      this.stats.counters.abandoned++;
      this.order.abandon(ticket.stream, ticket.seq, nowMs);
      return;
    }
    if (ticket.attempts >= DEFAULTS.workMaxAttempts) {
      ticket.done = true;
      this.stats.counters.failed++;
      this.log.warn({ event: 'frame-failed', topic: ticket.topic, seq: ticket.seq }, `gave up ${ticket.topic} seq ${ticket.seq} after ${ticket.attempts} workers failed it`);
      this.order.abandon(ticket.stream, ticket.seq, nowMs);
      this.release();
      return;
    }
    this.stats.counters.redispatched++;
    this.queue.unshift(ticket);
  }

  /** A worker died, left, timed out its heartbeats or sent garbage: its frames go elsewhere (every). */
  private lose(worker: WorkerState, nowMs: number): void {
    if (this.workers.get(worker.key) !== worker) return;
    this.workers.delete(worker.key);
    for (const topic of worker.topics) {
      this.affinity.delete(topic);
      this.orphaned.add(topic);
    }
    const jobs = [...worker.jobs].map((id) => this.jobs.get(id)).filter((job): job is Job => job !== undefined);
    // Oldest first, so that unshift() leaves them in their order at the queue's front.
    for (const job of jobs.reverse()) {
      this.finishJob(job);
      this.retry(job.ticket, nowMs);
    }
    this.dispatch();
  }

  private ban(key: string, identity: Buffer, worker: WorkerState | undefined, why: string): void {
    this.log.warn({ event: 'worker-garbage', worker: worker?.name }, `disconnected ${worker ? `worker ${worker.name}` : 'a peer'} on the workers' socket: ${why}`);
    if (worker) this.lose(worker, Date.now());
    if (this.banned.size >= BANNED_KEPT) this.banned.delete(this.banned.values().next().value!);
    this.banned.add(key);
    this.send(identity, encodeHubMessage({ kind: 'disconnect', reason: `protocol error: ${why}` }), undefined);
  }

  /** Hands out frames while a worker has credit and a frame fits it. */
  private dispatch(): void {
    if (this.closed) return;
    const nowMs = Date.now();
    for (;;) {
      const next = this.options.mode === 'live' ? this.nextLive() : this.nextQueued();
      if (!next) return;
      const { ticket, worker } = next;
      if (this.options.mode === 'live') {
        this.waiting.delete(ticket.topic);
        this.order.dispatched(ticket.stream, ticket.seq);
      } else {
        this.queue.splice(this.queue.indexOf(ticket), 1);
      }
      const job: Job = { id: this.nextJob++, ticket, worker, sentMs: nowMs, sentAt: performance.now(), timedOut: false };
      ticket.attempts++;
      ticket.out++;
      worker.credit--;
      worker.jobs.add(job.id);
      worker.lastDispatchMs = nowMs;
      this.jobs.set(job.id, job);
      this.stats.counters.dispatched++;
      this.send(worker.identity, encodeWork(job.id, ticket.parts), worker);
    }
  }

  private nextLive(): { ticket: Ticket; worker: WorkerState } | undefined {
    // The waiting frame that has waited longest: Map order is insertion order, and a replaced frame re-enters at the end.
    for (const ticket of this.waiting.values()) {
      const worker = this.workerFor(ticket.topic);
      if (worker) return { ticket, worker };
    }
    return undefined;
  }

  private nextQueued(): { ticket: Ticket; worker: WorkerState } | undefined {
    const passed = new Set<string>();
    for (const ticket of this.queue) {
      if (passed.has(ticket.topic)) continue;
      const worker = this.workerFor(ticket.topic);
      if (worker) return { ticket, worker };
      // With affinity, a stream's frames wait for its worker, in order; without, nobody has credit.
      if (!this.options.affinity) return undefined;
      passed.add(ticket.topic);
    }
    return undefined;
  }

  /** The worker to give a frame of `topic` now, if any: its own (affinity), or the one idle longest. */
  private workerFor(topic: string): WorkerState | undefined {
    if (this.options.affinity) {
      const own = this.affinity.get(topic);
      if (own) return own.credit > 0 ? own : undefined;
    }
    let best: WorkerState | undefined;
    for (const worker of this.workers.values()) {
      if (worker.credit <= 0) continue;
      if (
        !best ||
        (this.options.affinity && worker.topics.size < best.topics.size) ||
        ((!this.options.affinity || worker.topics.size === best.topics.size) && worker.lastDispatchMs < best.lastDispatchMs)
      ) {
        best = worker;
      }
    }
    if (best && this.options.affinity) {
      this.affinity.set(topic, best);
      best.topics.add(topic);
      if (this.orphaned.delete(topic)) {
        this.stats.counters.moved++;
        this.log.info({ event: 'stream-moved', topic, worker: best.name }, `stream ${topic} moved to worker ${best.name}`);
      }
    }
    return best;
  }

  /** Results nobody subscribes to are not encoded or sent: XPUB would drop them anyway. */
  /**
   * --affinity stream: a worker that joins takes streams from the busiest worker until no worker has
   * two more than it (each move counted), so scaling up spreads the streams. Streams otherwise stay put.
   */
  private rebalance(joined: WorkerState): void {
    for (;;) {
      let busiest: WorkerState | undefined;
      for (const worker of this.workers.values()) if (!busiest || worker.topics.size > busiest.topics.size) busiest = worker;
      if (!busiest || busiest === joined || busiest.topics.size - joined.topics.size < 2) return;
      const topic = busiest.topics.values().next().value!;
      busiest.topics.delete(topic);
      joined.topics.add(topic);
      this.affinity.set(topic, joined);
      this.stats.counters.moved++;
      this.log.info({ event: 'stream-moved', topic, worker: joined.name }, `stream ${topic} moved to worker ${joined.name}, which joined`);
    }
  }

  private publish(result: WorkResult): void {
    this.release();
    if (this.resultPrefixes.size >= MAX_RESULT_PREFIXES || [...this.resultPrefixes].some((prefix) => result.topic.startsWith(prefix))) {
      this.resultOutbox.push(encodeResult(result));
    }
  }

  private send(identity: Buffer, parts: Buffer[], worker: WorkerState | undefined): void {
    if (worker) worker.lastSentMs = Date.now();
    this.workOutbox.push([identity, ...parts]);
  }

  /** A send to a worker failed: with ROUTER_MANDATORY, EHOSTUNREACH means its connection is gone. */
  private onSendFailed(message: readonly Buffer[], error: unknown): void {
    const identity = message[0];
    if (!identity) return;
    const worker = this.workers.get(identity.toString('hex'));
    if (!worker) return;
    const code = (error as { code?: unknown }).code;
    if (code === 'EHOSTUNREACH' || isWouldBlock(error)) {
      this.log.info({ event: 'worker-gone', worker: worker.name }, `worker ${worker.name} is gone (${String(code)})`);
      this.lose(worker, Date.now());
    }
  }

  /** A connection on the workers' socket closed: a heartbeat to each worker finds out whose (EHOSTUNREACH). */
  private probeWorkers(): void {
    if (this.closed) return;
    const probe = (): void => {
      for (const worker of this.workers.values()) this.send(worker.identity, encodeHubMessage({ kind: 'heartbeat' }), worker);
    };
    probe();
    // libzmq removes the pipe a moment after it reports the disconnect.
    setTimeout(probe, 20).unref();
    setTimeout(probe, 200).unref();
  }

  private tick(nowMs: number): void {
    const { heartbeatMs, timeoutMs, mode } = this.options;
    for (const worker of [...this.workers.values()]) {
      if (nowMs - worker.lastHeardMs > heartbeatMs * DEFAULTS.workLiveness) {
        this.log.warn({ event: 'worker-silent', worker: worker.name }, `worker ${worker.name} went silent (no heartbeat for ${DEFAULTS.workLiveness} intervals)`);
        this.lose(worker, nowMs);
      } else if (nowMs - worker.lastSentMs >= heartbeatMs) {
        this.send(worker.identity, encodeHubMessage({ kind: 'heartbeat' }), worker);
      }
    }
    for (const job of this.jobs.values()) {
      if (job.timedOut || nowMs - job.sentMs < timeoutMs) continue;
      job.timedOut = true;
      this.stats.counters.timeouts++;
      if (mode === 'every' && !job.ticket.done) {
        // The worker keeps its slot until it answers; the frame goes to another, and the first result wins.
        job.ticket.out--;
        this.retry(job.ticket, nowMs);
        job.ticket.out++;
        if (this.options.affinity && this.affinity.get(job.ticket.topic) === job.worker) {
          this.affinity.delete(job.ticket.topic);
          job.worker.topics.delete(job.ticket.topic);
          this.orphaned.add(job.ticket.topic);
        }
      } else if (mode === 'live') {
        this.order.abandon(job.ticket.stream, job.ticket.seq, nowMs);
      }
    }
    this.order.tick(nowMs);
    this.dispatch();
  }

  /** Idempotent. Workers are told nothing: their heartbeats find the hub gone, and they reconnect. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker) clearInterval(this.ticker);
    for (const resolve of this.roomWaiters.splice(0)) resolve();
    this.workOutbox.close();
    this.resultOutbox.close();
    this.router.close();
    this.publisher.close();
  }
}
