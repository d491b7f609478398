import { setTimeout as sleep } from 'node:timers/promises';
import * as zmq from 'zeromq';
import { z85Encode } from './z85';

/** Where libzmq sends ZAP requests (RFC 27), within the context the sockets share. */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';

/** Who may connect to the CURVE server sockets of one ZAP domain. */
export interface ZapPolicy {
  /** Allowed client public keys (Z85); undefined lets any client that completes the CURVE handshake in. */
  allowed: ReadonlySet<string> | undefined;
  onDenied(publicKey: string, address: string): void;
}

/**
 * The process's one ZAP handler. libzmq allows one per context, so every CURVE server socket shares
 * it, and each socket names its own allowlist by its ZAP domain: a hub can let camera keys publish
 * on one socket and viewer keys watch on another. It runs while at least one domain is registered.
 */
class ZapHandler {
  private readonly policies = new Map<string, ZapPolicy>();
  private closed = false;
  /** Settles once the socket has closed and stopped reading; only then is the ZAP endpoint free again. */
  readonly finished: Promise<void>;

  constructor(private readonly socket: zmq.Reply) {
    this.finished = this.serve();
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  add(domain: string, policy: ZapPolicy): void {
    if (this.policies.has(domain)) throw new Error(`ZAP domain "${domain}" is already in use`);
    this.policies.set(domain, policy);
  }

  /** Closes the handler once no domain is left, so it never keeps a finished process alive. */
  remove(domain: string): void {
    this.policies.delete(domain);
    if (this.policies.size > 0) return;
    this.closed = true;
    this.socket.close();
  }

  private async serve(): Promise<void> {
    try {
      for await (const request of this.socket) await this.socket.send(this.reply(request));
    } catch (error) {
      // Closing the socket ends the loop; nothing else can, and a ZAP failure must not end the process.
      if (!this.closed) throw error;
    }
  }

  /** RFC 27: version, request id, domain, address, identity, mechanism, credentials... */
  private reply(request: Buffer[]): (Buffer | string)[] {
    const [version = Buffer.alloc(0), requestId = Buffer.alloc(0), domain, address, , mechanism, credential] = request;
    const answer = (status: '200' | '400', text: string, userId = ''): (Buffer | string)[] => [version, requestId, status, text, userId, Buffer.alloc(0)];
    const policy = this.policies.get(domain?.toString() ?? '');
    if (!policy) return answer('400', 'unknown ZAP domain');
    if (mechanism?.toString() !== 'CURVE' || credential?.length !== 32) return answer('400', 'CURVE required');
    const publicKey = z85Encode(credential);
    if (policy.allowed !== undefined && !policy.allowed.has(publicKey)) {
      policy.onDenied(publicKey, address?.toString() ?? '');
      return answer('400', 'key not allowed');
    }
    return answer('200', 'OK', publicKey);
  }
}

let starting: Promise<ZapHandler> | undefined;

/**
 * libzmq releases an inproc endpoint in its reaper thread some time after the socket that bound it
 * closed, with no event to wait for; a handler started right after the last one stopped waits for that.
 */
const REBIND_ATTEMPTS = 100;
const REBIND_PAUSE_MS = 10;

async function startHandler(): Promise<ZapHandler> {
  for (let attempt = 1; ; attempt++) {
    const socket = new zmq.Reply({ linger: 0 });
    try {
      await socket.bind(ZAP_ENDPOINT);
      return new ZapHandler(socket);
    } catch (error) {
      socket.close();
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= REBIND_ATTEMPTS) throw error;
    }
    await sleep(REBIND_PAUSE_MS);
  }
}

/** The running handler; a new one once the last domain closed the previous one. */
async function handler(): Promise<ZapHandler> {
  for (;;) {
    const pending = (starting ??= startHandler());
    let current: ZapHandler;
    try {
      current = await pending;
    } catch (error) {
      if (starting === pending) starting = undefined;
      throw error;
    }
    if (current.isOpen) return current;
    await current.finished;
    if (starting === pending) starting = undefined;
  }
}

/** One ZAP domain's place in the handler; close() frees the domain (and the handler after the last). */
export interface ZapRegistration {
  readonly domain: string;
  close(): void;
}

/** Starts answering ZAP requests for `domain` (set the same zapDomain on the server socket before it binds). */
export async function registerZapDomain(domain: string, policy: ZapPolicy): Promise<ZapRegistration> {
  const current = await handler();
  current.add(domain, policy);
  let registered = true;
  return {
    domain,
    close: () => {
      if (!registered) return;
      registered = false;
      current.remove(domain);
    },
  };
}
