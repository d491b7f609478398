import type { ViewerFeed } from '../viewer-feed';
import type { ClientMessage, ConnectionStatus, ConnectRequest, FrameMeta, ServerMessage, StatusUpdate, ViewerSettings } from '../../common/viewer/viewer-messages';

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

  constructor(url: string, onLost: () => void) {
    this.ws = new WebSocket(url);
    this.ws.binaryType = 'arraybuffer';
    let resolveSettings: (settings: ViewerSettings) => void = () => undefined;
    this.settingsReceived = new Promise((resolve) => (resolveSettings = resolve));
    this.ws.addEventListener('message', (event: MessageEvent<string | ArrayBuffer>) => {
      if (typeof event.data !== 'string') {
        const meta = this.pendingMeta;
        this.pendingMeta = undefined;
        if (meta) for (const listener of this.frameListeners) listener(meta, new Uint8Array(event.data));
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
      }
    });
    this.ws.addEventListener('close', () => {
      for (const { reject } of this.replies.values()) reject(new Error('lost the connection to the viewer server'));
      this.replies.clear();
      onLost();
    });
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
