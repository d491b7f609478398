import { once } from 'node:events';
import { checkAndWatchConnectEndpoints } from '../common/cli/connect-endpoints';
import { DEFAULTS, type Wire } from '../common/defaults';
import type { Logger } from '../common/log';
import { warnOncePerReason } from '../common/log';
import type { CurveKeyPair } from '../common/sockets/curve-keys';
import type { SocketSecurityOptions } from '../common/sockets/curve-security';
import type { HostNameWatch } from '../common/sockets/endpoint';
import type { Attachment } from '../common/sockets/socket-options';
import type { ViewerSettings } from '../common/viewer/viewer-messages';
import { GatewayRoutes } from '../common/web/gateway-routes';
import { HttpServer, type HttpTls } from '../common/web/http-server';
import { StreamCatalog } from '../common/web/stream-catalog';
import { warnOnFirstRefusal, type StreamLimits } from '../common/stats/stream-bounds';
import { logClockNews } from '../common/stats/clock-news';
import { viewerUiRoutes } from '../common/web/viewer-page-routes';
import { FrameForwarder } from './forwarder';
import type { HubSummary } from './hub-stats';
import type { ForwarderPattern, HubSenderPattern, SenderIntake } from './hub-types';
import { resolveSenderIntake } from './intake';
import { StreamDiscovery } from './stream-discovery';
import { ViewerLinks } from './viewer-links';
import { WorkDispatcher, type WorkOptions } from './work/dispatcher';
import { workMetrics } from './work/work-stats';

/** The hub's web gateway (--http): the viewer page, MJPEG, snapshots, /streams.json and /metrics. */
export interface HubHttpOptions {
  host: string;
  port: number;
  token?: string | undefined;
  allowedHosts?: readonly string[] | undefined;
  tls?: HttpTls | undefined;
  allowIpc: boolean;
  discoveryIntervalMs: number;
}

export interface HubOptions {
  pattern: ForwarderPattern;
  senders: Attachment;
  senderPattern?: HubSenderPattern | undefined;
  senderWire: Wire;
  /** JPEG quality for imagezmq raw arrays. */
  quality: number;
  receivers: string;
  maxFrameBytes: number;
  hwm: number | 'auto';
  curveKey?: CurveKeyPair | undefined;
  curveAllowSenders?: ReadonlySet<string> | undefined;
  curveAllowReceivers?: ReadonlySet<string> | undefined;
  /** --curve-allow-workers: the workers' keys (ZAP domain `workers`). */
  curveAllowWorkers?: ReadonlySet<string> | undefined;
  http?: HubHttpOptions | undefined;
  /** --stream-ttl, --max-streams: how many streams the hub tracks, and for how long after their last frame. */
  streamLimits?: StreamLimits | undefined;
  /** --workers: frames handed out to workers, results published on their own socket. */
  work?: Omit<WorkOptions, 'workersSecurity' | 'resultsSecurity' | 'maxFrameBytes'> | undefined;
}

/**
 * A running hub: the forwarder between senders and receivers, the catalog of streams it feeds,
 * what its viewers report of their links, and the web gateway with its stream discovery. It owns
 * them all and closes them together.
 */
export class Hub {
  private closed = false;

  private constructor(
    readonly intake: SenderIntake,
    private readonly catalog: StreamCatalog,
    private readonly links: ViewerLinks,
    /** Re-resolves the host names of --senders-connect, to say when one stops resolving. */
    private readonly hosts: HostNameWatch,
    private readonly forwarder: FrameForwarder,
    private readonly web: { http: HttpServer; discovery: StreamDiscovery } | undefined,
    private readonly work: WorkDispatcher | undefined,
  ) {}

  static async open(options: HubOptions, log: Logger): Promise<Hub> {
    const intake = resolveSenderIntake({ pattern: options.pattern, senderPattern: options.senderPattern, wire: options.senderWire, senders: options.senders });
    const catalog = new StreamCatalog(DEFAULTS.viewerStallMs, options.streamLimits);
    warnOnFirstRefusal(catalog.stats.bounds, log);
    catalog.stats.onClockNews((topic, news) => logClockNews(log, topic, news));
    const links = new ViewerLinks(catalog);
    const warnFirst = warnOncePerReason(log);
    const hosts = await checkAndWatchConnectEndpoints('connect' in options.senders ? options.senders.connect : [], log);
    let forwarder: FrameForwarder | undefined;
    let work: WorkDispatcher | undefined;
    try {
      const security = hubSecurity(options, log, () => catalog.stats.denied++);
      const dispatcher = options.work
        ? await WorkDispatcher.open({ ...options.work, maxFrameBytes: options.maxFrameBytes, workersSecurity: security.workersSecurity, resultsSecurity: security.resultsSecurity }, log)
        : undefined;
      work = dispatcher;
      forwarder = await FrameForwarder.open({
        ...security,
        ...(dispatcher && { onFrame: (frame, parts) => dispatcher.offer(frame, parts) }),
        pattern: options.pattern,
        senders: options.senders,
        intake,
        quality: options.quality,
        receivers: options.receivers,
        catalog,
        maxFrameBytes: options.maxFrameBytes,
        sendHighWaterMark: options.hwm,
        onLinkReport: (message) => links.onMessage(message, Date.now()),
        onRejected: (error) => warnFirst(error.reason, `dropped a malformed message (${error.reason}): ${error.message}`),
        onPeerCutOff: (endpoint) => log.warn({ event: 'redialled', endpoint }, `the connection to ${endpoint} was cut off (an oversized message); dialled it again`),
        onQueueShort: (needed, frames) =>
          log.warn(
            { event: 'hwm-short', needed, hwm: frames },
            `${(needed + 2) / 2} live streams: a burst of one frame from each needs ${needed} frames per receiver, but the queue is fixed at ${frames} when the hub starts; receivers may miss frames of a burst (restart with --hwm ${needed})`,
          ),
      });
      // Workers want their streams whether or not anyone watches: PUB senders must not idle.
      if (options.work) for (const prefix of options.work.topics ?? ['']) forwarder.demand(prefix);
      const web = options.http ? await openGateway(options, options.http, catalog, forwarder, dispatcher, log) : undefined;
      return new Hub(intake, catalog, links, hosts, forwarder, web, work);
    } catch (error) {
      forwarder?.close();
      work?.close();
      hosts.close();
      throw error;
    }
  }

  get sendersEndpoint(): string {
    return this.forwarder.sendersEndpoint;
  }

  get receiversEndpoint(): string {
    return this.forwarder.receiversEndpoint;
  }

  /** Where workers connect and where results are published; undefined without --workers. */
  get workEndpoints(): { workers: string; results: string } | undefined {
    return this.work && { workers: this.work.workersEndpoint, results: this.work.resultsEndpoint };
  }

  /** The gateway's page, with the token when the hub made it up; undefined without --http. */
  get http(): HttpServer | undefined {
    return this.web?.http;
  }

  /** What the hub forwards, its receivers, the frames it queues per receiver now, and its viewers' links. */
  summary(final: boolean): HubSummary {
    const now = Date.now();
    const stats = final ? this.catalog.stats.final(now) : this.catalog.stats.live(now);
    return {
      ...stats,
      receivers: this.forwarder.receivers,
      hwm: this.forwarder.sendHighWaterMark,
      links: this.links.summary(now),
      ...(this.work && { work: this.work.summary() }),
    };
  }

  /** Forwards until `signal` aborts (or the sockets close). */
  async run(signal: AbortSignal): Promise<void> {
    const running = Promise.all([this.forwarder.run(), this.work?.run()]);
    await Promise.race([running, signal.aborted ? Promise.resolve() : once(signal, 'abort')]);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.web?.discovery.close();
    this.work?.close();
    this.forwarder.close();
    this.hosts.close();
    this.catalog.stats.bounds.close();
    await this.web?.http.close();
  }
}

/**
 * CURVE on both of the hub's sockets, each with its own ZAP domain and allowlist, so a camera's key
 * can publish and a viewer's key can only watch. The hub's own page watches through the receivers'
 * socket with the hub's key, so that key is on the receivers' list too.
 */
function hubSecurity(
  options: HubOptions,
  log: Logger,
  onDenied: () => void,
): { sendersSecurity?: SocketSecurityOptions; receiversSecurity?: SocketSecurityOptions; workersSecurity?: SocketSecurityOptions; resultsSecurity?: SocketSecurityOptions } {
  const { curveKey, curveAllowSenders, curveAllowReceivers, curveAllowWorkers } = options;
  if (curveKey === undefined && curveAllowSenders === undefined && curveAllowReceivers === undefined && curveAllowWorkers === undefined) return {};
  const receiversAllowed = curveAllowReceivers && curveKey ? new Set([...curveAllowReceivers, curveKey.publicKey]) : curveAllowReceivers;
  return {
    sendersSecurity: { curve: { key: curveKey, allow: curveAllowSenders }, log, zapDomain: 'senders', onDenied },
    receiversSecurity: { curve: { key: curveKey, allow: receiversAllowed }, log, zapDomain: 'receivers', onDenied },
    // Workers see every frame they are given and publish results: their own list. Results go to whoever may watch.
    workersSecurity: { curve: { key: curveKey, allow: curveAllowWorkers }, log, zapDomain: 'workers', onDenied },
    resultsSecurity: { curve: { key: curveKey, allow: receiversAllowed }, log, zapDomain: 'results', onDenied },
  };
}

/** Where a local client reaches a bound endpoint: tcp://*:P and tcp://0.0.0.0:P become loopback. */
function localEndpoint(bound: string): string {
  return bound.replace(/^tcp:\/\/(\*|0\.0\.0\.0):/, 'tcp://127.0.0.1:').replace(/^tcp:\/\/\[(::|\*)\]:/, 'tcp://[::1]:');
}

async function openGateway(
  options: HubOptions,
  http: HubHttpOptions,
  catalog: StreamCatalog,
  forwarder: FrameForwarder,
  work: WorkDispatcher | undefined,
  log: Logger,
): Promise<{ http: HttpServer; discovery: StreamDiscovery }> {
  // The page watches the hub as any viewer would: through its receivers' socket (pubsub only; a PULL would take frames from the workers).
  const settings: ViewerSettings = {
    connections:
      options.pattern === 'pubsub'
        ? [
            {
              endpoint: localEndpoint(forwarder.receiversEndpoint),
              pattern: 'sub',
              topics: [],
              ...(options.curveKey ? { serverKey: options.curveKey.publicKey } : {}),
              ...(work ? { results: localEndpoint(work.resultsEndpoint) } : {}),
            },
          ]
        : [],
  };
  // Its sockets use the hub's own key, which the receivers' allowlist admits (hubSecurity).
  const ui = await viewerUiRoutes({ settings, log, curveKey: options.curveKey, allowIpc: http.allowIpc, streamLimits: options.streamLimits });
  const onDemand = { demand: (prefix: string) => forwarder.demand(prefix), isWatched: (topic: string) => forwarder.isWatched(topic) };
  const server = await HttpServer.start({
    host: http.host,
    port: http.port,
    routes: [ui, new GatewayRoutes(catalog, { receivers: () => forwarder.receivers, ...(work && { work: () => workMetrics(work.summary()) }) }, onDemand)],
    log,
    token: http.token,
    allowedHosts: http.allowedHosts,
    tls: http.tls,
  });
  // The gateway asks for a stream only while someone uses it, so cameras nobody watches idle;
  // a short pulse now and then lists the streams it has not seen yet.
  const discovery = new StreamDiscovery((prefix) => forwarder.demand(prefix), {
    intervalMs: http.discoveryIntervalMs,
    pulseMs: Math.min(DEFAULTS.hubDiscoveryPulseMs, http.discoveryIntervalMs / 2),
  });
  return { http: server, discovery };
}
