import type * as zmq from 'zeromq';
import { DEFAULTS } from './defaults';

/**
 * Keeps a connecting socket connected after libzmq gives a peer up for good.
 *
 * libzmq reconnects a dropped connection by itself (it reports `connect:retry`), except after a
 * protocol error, such as a message past ZMQ_MAXMSGSIZE: then it ends that connection's session
 * and never dials again, so one oversized frame would cut a receiver off from its sender forever.
 * A disconnect with no retry following soon is that case: disconnect and connect the endpoint
 * again, which starts a fresh session (and a fresh reconnect schedule) for it.
 */
export class Redialler {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private closed = false;
  private readonly onDisconnect = (event: { address: string }): void => {
    if (this.closed || !this.endpoints.includes(event.address)) return;
    clearTimeout(this.pending.get(event.address));
    this.pending.set(event.address, setTimeout(() => this.redial(event.address), DEFAULTS.redialCheckMs));
  };
  private readonly onRetry = (event: { address: string }): void => {
    clearTimeout(this.pending.get(event.address));
    this.pending.delete(event.address);
  };

  constructor(
    private readonly socket: zmq.Socket,
    private readonly endpoints: readonly string[],
    private readonly onCutOff: ((endpoint: string) => void) | undefined,
  ) {
    socket.events.on('disconnect', this.onDisconnect);
    socket.events.on('connect:retry', this.onRetry);
  }

  private redial(endpoint: string): void {
    this.pending.delete(endpoint);
    if (this.closed || this.socket.closed) return;
    this.socket.disconnect(endpoint);
    this.socket.connect(endpoint);
    this.onCutOff?.(endpoint);
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
    }
  }
}
