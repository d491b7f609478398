import type * as zmq from 'zeromq';
import { generateKeyPair, type CurveKeyPair } from './curve-keys';
import { UsageError } from './errors';
import type { Logger } from './log';
import type { Attachment } from './socket-options';
import { registerZapDomain, type ZapRegistration } from './zap-handler';

/** What the --curve-* flags give; all empty means plaintext. */
export interface CurveSettings {
  /** This program's own key pair (--curve-key). */
  key?: CurveKeyPair | undefined;
  /** Client public keys a binding socket lets in (--curve-allow); undefined admits any CURVE client. */
  allow?: ReadonlySet<string> | undefined;
  /** The public key of the server a connecting socket talks to (--curve-server). */
  serverKey?: string | undefined;
}

export interface SocketSecurityOptions {
  curve: CurveSettings;
  log: Logger;
  /**
   * Names this socket's allowlist in the process's ZAP handler. Each binding socket of a process
   * needs its own (the hub: one for senders, one for receivers); by default a unique one is made.
   */
  zapDomain?: string;
  /** Called for every refused handshake, for the owner's `denied` count. */
  onDenied?: () => void;
}

type CurveSocketOptions = Pick<zmq.SocketOptions<zmq.Socket>, 'curveServer' | 'curvePublicKey' | 'curveSecretKey' | 'curveServerKey' | 'zapDomain'>;

export function isCurveEnabled(curve: CurveSettings | undefined): boolean {
  return curve !== undefined && (curve.key !== undefined || curve.allow !== undefined || curve.serverKey !== undefined);
}

let nextDomain = 1;

/**
 * CURVE for one socket, the same way on every socket zerocam opens. The side that binds is the
 * CURVE server and checks clients against its allowlist in the ZAP handler; the side that connects
 * is the client and watches its handshakes so a wrong server key, or a server without CURVE,
 * is one clear log line instead of a silent wait. Create it before the socket (for the socket's
 * options), start() it before attaching, and close it with the socket.
 */
export class SocketSecurity {
  readonly socketOptions: CurveSocketOptions;
  private readonly role: 'server' | 'client';
  private readonly freshKey: boolean;
  private readonly deniedPeers = new Set<string>();
  private registration: ZapRegistration | undefined;
  private observer: zmq.Observer | undefined;
  private closed = false;

  private constructor(
    private readonly options: SocketSecurityOptions,
    attachment: Attachment,
  ) {
    const { key, allow, serverKey } = options.curve;
    this.role = 'bind' in attachment ? 'server' : 'client';
    if (this.role === 'server') {
      if (serverKey !== undefined) throw new UsageError('--curve-server is for a side that connects; a side that binds is the CURVE server and takes --curve-key');
      if (key === undefined) throw new UsageError('--curve-allow needs --curve-key: the side that binds is the CURVE server and needs its own key');
      this.freshKey = false;
      this.socketOptions = { curveServer: true, curveSecretKey: key.secretKey, zapDomain: options.zapDomain ?? `zerocam-${nextDomain++}` };
    } else {
      if (allow !== undefined) throw new UsageError('--curve-allow is for a side that binds; a side that connects checks the server with --curve-server');
      if (serverKey === undefined) throw new UsageError('--curve-key on a side that connects needs --curve-server, the public key of the server it connects to');
      this.freshKey = key === undefined;
      const own = key ?? generateKeyPair();
      this.socketOptions = { curveServerKey: serverKey, curvePublicKey: own.publicKey, curveSecretKey: own.secretKey };
    }
  }

  /** undefined when `options` asks for no CURVE; a UsageError when the flags do not fit this side. */
  static forSocket(options: SocketSecurityOptions | undefined, attachment: Attachment): SocketSecurity | undefined {
    return options && isCurveEnabled(options.curve) ? new SocketSecurity(options, attachment) : undefined;
  }

  /** Before the socket binds or connects: register its allowlist, or watch its handshakes. */
  async start(socket: zmq.Socket): Promise<void> {
    if (this.role === 'server') {
      this.registration = await registerZapDomain(this.socketOptions.zapDomain!, {
        allowed: this.options.curve.allow,
        onDenied: (publicKey, address) => this.onDenied(publicKey, address),
      });
    } else {
      this.observer = socket.events;
      void this.watchHandshakes(this.observer);
    }
  }

  /** Says in the log what protects `endpoint`, once it is attached. */
  announce(endpoint: string): void {
    const { log, curve } = this.options;
    if (this.role === 'client') {
      const own = this.freshKey ? 'a fresh key for this run' : `key ${curve.key!.publicKey}`;
      log.info({ event: 'curve', role: 'client', endpoint }, `CURVE to ${endpoint}: expecting server key ${curve.serverKey}, with ${own}`);
    } else if (curve.allow === undefined) {
      log.warn(
        { event: 'curve', role: 'server', endpoint, authenticated: false },
        `CURVE on ${endpoint}: encrypted but NOT authenticated; any client that knows this server's public key may connect (give --curve-allow to restrict)`,
      );
    } else {
      log.info({ event: 'curve', role: 'server', endpoint, authenticated: true, allowed: curve.allow.size }, `CURVE on ${endpoint}: encrypted, ${curve.allow.size} client key(s) allowed`);
    }
  }

  private onDenied(publicKey: string, address: string): void {
    this.options.onDenied?.();
    const peer = `${publicKey}@${address}`;
    if (this.deniedPeers.has(peer)) return;
    this.deniedPeers.add(peer);
    this.options.log.warn(
      { event: 'curve-denied', publicKey, address },
      `denied a client at ${address || 'a local address'} with key ${publicKey}: not in the allowlist (further attempts from it are only counted)`,
    );
  }

  private async watchHandshakes(observer: zmq.Observer): Promise<void> {
    // One line per kind of failure until a handshake succeeds; libzmq goes on reconnecting by itself.
    let lastFailure: string | undefined;
    let succeeded = false;
    try {
      for await (const event of observer) {
        if (event.type === 'handshake') {
          if (!succeeded || lastFailure !== undefined) this.options.log.info({ event: 'curve-handshake', endpoint: event.address }, `CURVE handshake with ${event.address} succeeded`);
          succeeded = true;
          lastFailure = undefined;
          continue;
        }
        const failure = describeHandshakeFailure(event);
        if (failure === undefined || failure === lastFailure) continue;
        lastFailure = failure;
        this.options.log.error({ event: 'curve-handshake-failed', endpoint: 'address' in event ? event.address : undefined }, `${failure}; retrying quietly`);
      }
    } catch {
      // The observer ends with its socket; a monitor error only costs these log lines.
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.observer?.close();
    this.registration?.close();
  }
}

function describeHandshakeFailure(event: zmq.Event): string | undefined {
  switch (event.type) {
    case 'handshake:error:auth':
      return `the server at ${event.address} refused this client's key (it is not in the server's allowlist)`;
    case 'handshake:error:protocol':
      return event.error.code === 'ERR_ZMTP_MECHANISM_MISMATCH'
        ? `the server at ${event.address} does not speak CURVE (it runs without --curve-key)`
        : `the CURVE handshake with ${event.address} failed (${event.error.code}): is --curve-server the right key?`;
    case 'handshake:error:other':
      return `the CURVE handshake with ${event.address} failed: the server dropped the connection, so --curve-server is probably not its key`;
    default:
      return undefined;
  }
}
