import type { ViewerFeed } from '../viewer-feed';
import type { ClientMessage, ConnectionStatus, ConnectRequest, FrameMeta, ServerMessage, StatusUpdate, ViewerSettings } from '../../common/viewer/viewer-messages';
import { ClockOffsetEstimator } from '../../common/stats/clock-offset';

/** How often the page measures its clock against the server's (docs/protocol.md, "Clock offsets"). */
const CLOCK_PROBE_MS = 500;

function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

type FrameListener = (meta: FrameMeta, jpeg: Uint8Array) => void;
type StatusListener = (update: StatusUpdate) => void;

/** The ViewerFeed of `zerocam-viewer --web`: JSON text messages, with each JPEG as the binary message after its metadata. */
export class WebSocketFeed implements ViewerFeed {
  private readonly ws: WebSocket;
  private readonly frameListeners = new Set<FrameListener>();
  private readonly statusListeners = new Set<StatusListener>();
  private readonly replies = new Map<number, { resolve: (m: ServerMessage) => void; reject: (e: Error) => void }>();
  private readonly settingsReceived: Promise<ViewerSettings>;
  private pendingMeta: FrameMeta | undefined;
  private nextRequestId = 1;
  /** The server's clock against this page's: the page may run on a third host. */
  private readonly clock = new ClockOffsetEstimator();
  private readonly clockTimer: ReturnType<typeof setInterval>;

  constructor(url: string, onLost: () => void) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    let resolveSettings: (settings: ViewerSettings) => void = () => undefined;
    this.settingsReceived = new Promise((resolve) => (resolveSettings = resolve));
    this.ws.addEventListener('message', (event: MessageEvent<string | ArrayBuffer>) => {
      if (typeof event.data !== 'string') {
        const meta = this.pendingMeta;
        this.pendingMeta = undefined;
        if (meta) for (const listener of this.frameListeners) listener(this.onPageClock(meta), new Uint8Array(event.data));
        return;
      }
      const message = JSON.parse(event.data) as ServerMessage | { type: 'frame'; meta: FrameMeta };
      switch (message.type) {
        case 'frame':
          this.pendingMeta = message.meta;
          return;
        case 'settings':
          resolveSettings(message.settings);
          return;
        case 'status':
          for (const listener of this.statusListeners) listener(message.update);
          return;
        case 'reply':
          this.replies.get(message.requestId)?.resolve(message);
          this.replies.delete(message.requestId);
          return;
        case 'clock':
          this.clock.addExchange(message.t1, message.t2, message.t3, nowUs());
          return;
      }
    });
    const probe = (): void => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'clock', t1: nowUs() } satisfies ClientMessage));
    };
    this.ws.addEventListener('open', probe);
    this.clockTimer = setInterval(probe, CLOCK_PROBE_MS);
    this.ws.addEventListener('close', () => {
      clearInterval(this.clockTimer);
      for (const { reject } of this.replies.values()) reject(new Error('lost the connection to the viewer server'));
      this.replies.clear();
      onLost();
    });
  }

  /**
   * The frame's offset is the camera's clock against the server's; the page's latency needs it
   * against the page's: add the server's offset to this page. Without a page estimate, or without a
   * camera one, the latency spans two unsynchronised clocks and says so (null).
   */
  private onPageClock(meta: FrameMeta): FrameMeta {
    const page = this.clock.estimate(nowUs());
    if (meta.clockOffsetUs === null || !page) return { ...meta, clockOffsetUs: null, clockUncertaintyUs: null };
    return { ...meta, clockOffsetUs: Math.round(meta.clockOffsetUs + page.offsetUs), clockUncertaintyUs: Math.round((meta.clockUncertaintyUs ?? 0) + page.uncertaintyUs) };
  }

  settings(): Promise<ViewerSettings> {
    return this.settingsReceived;
  }

  async connect(request: ConnectRequest): Promise<ConnectionStatus> {
    const reply = await this.request((requestId) => ({ type: 'connect', requestId, request }));
    if (reply.type !== 'reply' || !reply.ok) throw new Error(reply.type === 'reply' && !reply.ok ? reply.error : 'unexpected reply');
    if (!reply.connection) throw new Error('the server sent no connection');
    return reply.connection;
  }

  async disconnect(connectionId: string): Promise<void> {
    await this.request((requestId) => ({ type: 'disconnect', requestId, connectionId }));
  }

  displayed(key: string, ticket: number): void {
    this.send({ type: 'displayed', key, ticket });
  }

  onFrame(listener: FrameListener): () => void {
    this.frameListeners.add(listener);
    return () => this.frameListeners.delete(listener);
  }

  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private request(build: (requestId: number) => ClientMessage): Promise<ServerMessage> {
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.replies.set(requestId, { resolve, reject });
      this.send(build(requestId));
    });
  }

  private send(message: ClientMessage): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
    else this.ws.addEventListener('open', () => this.ws.send(JSON.stringify(message)), { once: true });
  }
}
