import type * as zmq from 'zeromq';
import { generateKeyPair, type CurveKeyPair } from './curve-keys';
import { DEFAULTS } from '../defaults';
import { UsageError } from '../errors';
import type { Logger } from '../log';
import { Redialler } from './redialler';
import { attach, type Attachment } from './socket-options';
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
  /** Called for every refused handshake (a key not allowed, or a client without CURVE or with the wrong server key), for the owner's `denied` count. */
  onDenied?: () => void;
}

export type CurveSocketOptions = Pick<zmq.SocketOptions<zmq.Socket>, 'curveServer' | 'curvePublicKey' | 'curveSecretKey' | 'curveServerKey' | 'zapDomain'>;

export function isCurveEnabled(curve: CurveSettings | undefined): boolean {
  return curve !== undefined && (curve.key !== undefined || curve.allow !== undefined || curve.serverKey !== undefined);
}

let nextDomain = 1;
/** A connecting side without --curve-key gets one fresh key pair for the whole run. */
let freshKeyForThisRun: CurveKeyPair | undefined;

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
      const own = key ?? (freshKeyForThisRun ??= generateKeyPair());
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
    }
    // Listeners, not iteration, so other owners of this socket can listen to its events too (an
    // observer is either iterated or listened to). It ends when its socket closes.
    if (this.role === 'server') this.watchServerHandshakes(socket.events);
    else this.watchHandshakes(socket.events);
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
    if (this.deniedPeers.has(peer) || this.deniedPeers.size > DEFAULTS.curveDeniedPeersLogged) return;
    this.deniedPeers.add(peer);
    if (this.deniedPeers.size > DEFAULTS.curveDeniedPeersLogged) {
      this.options.log.warn({ event: 'curve-denied-many' }, `denied more than ${DEFAULTS.curveDeniedPeersLogged} different clients; further ones are only counted`);
      return;
    }
    this.options.log.warn(
      { event: 'curve-denied', publicKey, address },
      `denied a client at ${address || 'a local address'} with key ${publicKey}: not in the allowlist (further attempts from it are only counted)`,
    );
  }

  /**
   * Clients that fail before ZAP is asked: no CURVE at all, or encrypting to another server key.
   * libzmq reports only the bound endpoint, not the peer, so this is one line per socket and reason.
   */
  private watchServerHandshakes(observer: zmq.Observer): void {
    const logged = new Set<string>();
    const onFailure = (event: HandshakeFailure): void => {
      this.options.onDenied?.();
      // Which side notices a mismatch first is a race, so only a mismatch reported here is certain.
      const reason = isMechanismMismatch(event) ? 'it does not use CURVE' : 'it does not use CURVE, or it encrypts to another server key';
      if (logged.has(reason)) return;
      logged.add(reason);
      this.options.log.warn(
        { event: 'curve-handshake-failed', endpoint: event.address, reason: errorCode(event) },
        `refused a client on ${event.address}: ${reason} (further failed handshakes are only counted)`,
      );
    };
    observer.on('handshake:error:protocol', onFailure);
    observer.on('handshake:error:other', onFailure);
  }

  /** libzmq gives up on a refused endpoint; the socket's Redialler (see openSecuredSocket) dials it again. */
  private watchHandshakes(observer: zmq.Observer): void {
    // One line per kind of failure until a handshake succeeds.
    let lastFailure: string | undefined;
    let succeeded = false;
    observer.on('handshake', (event) => {
      if (!succeeded || lastFailure !== undefined) this.options.log.info({ event: 'curve-handshake', endpoint: event.address }, `CURVE handshake with ${event.address} succeeded`);
      succeeded = true;
      lastFailure = undefined;
    });
    const onFailure = (event: HandshakeFailure): void => {
      const failure = describeHandshakeFailure(event);
      if (failure === lastFailure) return;
      lastFailure = failure;
      this.options.log.error({ event: 'curve-handshake-failed', endpoint: event.address }, `${failure}; retrying quietly`);
    };
    observer.on('handshake:error:auth', onFailure);
    observer.on('handshake:error:protocol', onFailure);
    observer.on('handshake:error:other', onFailure);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.registration?.close();
  }
}

/** A socket attached with its CURVE settings (and, when it connects, its Redialler) in force. */
export interface SecuredSocket<S extends zmq.Socket> {
  socket: S;
  endpoint: string;
  /** Idempotent: the Redialler, the CURVE registration, then the socket. */
  readonly close: () => void;
}

/**
 * Creates a socket with CURVE (if `securityOptions` asks for it), then binds or connects it: the
 * one way every zerocam socket is opened. `create` gets the CURVE options to merge into the socket's.
 * A connecting socket gets a Redialler, because libzmq gives up on a peer after a refused handshake
 * or an oversized message; `onPeerCutOff` hears of the latter. On failure nothing is left open.
 */
export async function openSecuredSocket<S extends zmq.Socket>(
  create: (curveOptions: CurveSocketOptions | undefined) => S,
  attachment: Attachment,
  securityOptions: SocketSecurityOptions | undefined,
  onPeerCutOff?: (endpoint: string) => void,
): Promise<SecuredSocket<S>> {
  const security = SocketSecurity.forSocket(securityOptions, attachment);
  const socket = create(security?.socketOptions);
  // Listening before connecting, so no disconnect is missed.
  const redialler = 'connect' in attachment ? new Redialler(socket, attachment.connect, onPeerCutOff) : undefined;
  const close = (): void => {
    redialler?.close();
    security?.close();
    if (!socket.closed) socket.close();
  };
  try {
    await security?.start(socket);
    const endpoint = await attach(socket, attachment);
    security?.announce(endpoint);
    return { socket, endpoint, close };
  } catch (error) {
    close();
    throw error;
  }
}

type HandshakeFailure = zmq.EventOfType<'handshake:error:auth'> | zmq.EventOfType<'handshake:error:protocol'> | zmq.EventOfType<'handshake:error:other'>;

function errorCode(event: HandshakeFailure): string | undefined {
  return (event.error as { code?: string }).code;
}

function isMechanismMismatch(event: HandshakeFailure): boolean {
  return event.type === 'handshake:error:protocol' && errorCode(event) === 'ERR_ZMTP_MECHANISM_MISMATCH';
}

function describeHandshakeFailure(event: HandshakeFailure): string {
  if (event.type === 'handshake:error:auth') return `the server at ${event.address} refused this client's key (it is not in the server's allowlist)`;
  if (isMechanismMismatch(event)) {
    return `the server at ${event.address} does not speak CURVE (it runs without --curve-key)`;
  }
  // A server that cannot decrypt the HELLO just hangs up, and so may one without CURVE: this side cannot tell which.
  return `the CURVE handshake with ${event.address} failed (${errorCode(event)}): --curve-server is not its key, or it does not speak CURVE`;
}
