import type * as zmq from 'zeromq';
import { DEFAULTS } from '../defaults';

/**
 * Keeps a connecting socket connected after libzmq gives a peer up for good.
 *
 * libzmq reconnects a dropped connection by itself (it reports `connect:retry`), except after a
 * protocol error, such as a message past ZMQ_MAXMSGSIZE: then it ends that connection's session
 * and never dials again, so one oversized frame would cut a receiver off from its sender forever.
 * A disconnect with no retry following soon is that case: disconnect and connect the endpoint
 * again, which starts a fresh session (and a fresh reconnect schedule) for it.
 *
 * A CURVE handshake the server refused (a key not allowed, no CURVE there) ends the same way. That
 * is no cut-off: it is redialled after the longest reconnect interval, quietly, so a client whose
 * key is added later gets in, without hammering a server that keeps refusing it.
 */
export class Redialler {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly refused = new Set<string>();
  private closed = false;
  private readonly onDisconnect = (event: { address: string }): void => {
    if (this.closed || !this.endpoints.includes(event.address)) return;
    clearTimeout(this.pending.get(event.address));
    const delay = this.refused.has(event.address) ? DEFAULTS.reconnectMaxIntervalMs : DEFAULTS.redialCheckMs;
    this.pending.set(event.address, setTimeout(() => this.redial(event.address), delay));
  };
  private readonly onRetry = (event: { address: string }): void => {
    clearTimeout(this.pending.get(event.address));
    this.pending.delete(event.address);
    this.refused.delete(event.address);
  };
  private readonly onHandshakeFailed = (event: { address: string }): void => {
    this.refused.add(event.address);
  };

  constructor(
    private readonly socket: zmq.Socket,
    private readonly endpoints: readonly string[],
    private readonly onCutOff: ((endpoint: string) => void) | undefined,
  ) {
    socket.events.on('disconnect', this.onDisconnect);
    socket.events.on('connect:retry', this.onRetry);
    socket.events.on('handshake:error:auth', this.onHandshakeFailed);
    socket.events.on('handshake:error:protocol', this.onHandshakeFailed);
  }

  private redial(endpoint: string): void {
    this.pending.delete(endpoint);
    const refused = this.refused.delete(endpoint);
    if (this.closed || this.socket.closed) return;
    try {
      this.socket.disconnect(endpoint);
    } catch {
      // Already gone with the failed session; connecting again is what matters.
    }
    this.socket.connect(endpoint);
    if (!refused) this.onCutOff?.(endpoint);
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.pending.values()) clearTimeout(timer);
    this.pending.clear();
    if (!this.socket.events.closed) {
      this.socket.events.off('disconnect', this.onDisconnect);
      this.socket.events.off('connect:retry', this.onRetry);
      this.socket.events.off('handshake:error:auth', this.onHandshakeFailed);
      this.socket.events.off('handshake:error:protocol', this.onHandshakeFailed);
    }
  }
}
