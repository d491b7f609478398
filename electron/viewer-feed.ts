import type { ConnectionStatus, ConnectRequest, FrameMeta, StatusUpdate, ViewerSettings } from '../common/viewer/viewer-messages';

/**
 * Everything the renderer needs from a backend. Two implementations: Electron's preload bridge
 * (`window.zerocam`) and the --web WebSocket feed. The renderer does not know which it has.
 */
export interface ViewerFeed {
  settings(): Promise<ViewerSettings>;
  /** Rejects with a readable message (a bad endpoint, say). */
  connect(request: ConnectRequest): Promise<ConnectionStatus>;
  disconnect(connectionId: string): Promise<void>;
  /** The frame with this ticket is on screen; the backend may send that stream's next one. */
  displayed(key: string, ticket: number): void;
  /** Subscribes; returns the unsubscribe function. */
  onFrame(listener: (meta: FrameMeta, jpeg: Uint8Array) => void): () => void;
  onStatus(listener: (update: StatusUpdate) => void): () => void;
}

/** What Electron's main process answers to connect/disconnect (errors cross IPC as values, not exceptions). */
export type IpcReply = { ok: true; connection?: ConnectionStatus } | { ok: false; error: string };
