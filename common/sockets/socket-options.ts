import { DEFAULTS } from '../defaults';
import { isLocalEndpoint } from './endpoint';
import { describeError, UsageError } from '../errors';

/**
 * Options every zerocam socket shares. linger 0: frames are perishable, so closing never waits
 * to flush them and a port is free the moment the process lets go of it.
 */
export const COMMON_SOCKET_OPTIONS = {
  linger: 0,
  heartbeatInterval: DEFAULTS.heartbeatIntervalMs,
  heartbeatTimeout: DEFAULTS.heartbeatTimeoutMs,
  reconnectInterval: DEFAULTS.reconnectIntervalMs,
  reconnectMaxInterval: DEFAULTS.reconnectMaxIntervalMs,
} as const;

/** libzmq's EAGAIN: nothing could be sent or received right now. */
export function isWouldBlock(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'EAGAIN';
}

/**
 * Every message `socket` receives, until it closes. zeromq.js rejects a receive with EAGAIN when
 * the socket was signalled readable but the message is not complete yet (seen with CURVE and 140 kB
 * frames); the next wake-up has it, so that is no error (zeromq.js's own iterator would throw it).
 */
export async function* receiveUntilClosed(socket: { receive(): Promise<Buffer[]>; readonly closed: boolean }): AsyncGenerator<Buffer[]> {
  while (!socket.closed) {
    let parts: Buffer[];
    try {
      parts = await socket.receive();
    } catch (error) {
      if (isWouldBlock(error)) continue;
      throw error;
    }
    yield parts;
  }
}

/** Where a socket attaches: it binds one endpoint, or connects to one or more. */
export type Attachment = { bind: string } | { connect: readonly string[] };

interface Attachable {
  bind(address: string): Promise<void>;
  connect(address: string): void;
  readonly lastEndpoint: string | null;
}

/**
 * Small kernel buffers bound the lag on a slow link: frames wait in ZeroMQ's tiny queues, where
 * newer ones replace them, not in the kernel's, where they queue for seconds (#11). Set here, just
 * before the socket binds or connects, on whichever directions the socket type has (a PUSH has no
 * receive buffer option, a PULL no send one). Sockets that only ever reach this host keep Linux's
 * defaults: on loopback the small buffers cost a third of the receiver's CPU per frame and a fifth
 * of the throughput (docs/benchmarks.md), and buy nothing.
 */
function limitKernelBuffers(socket: object, attachment: Attachment): void {
  const endpoints = 'bind' in attachment ? [attachment.bind] : attachment.connect;
  if (networkSocketBufferBytes === KERNEL_SIZED || (endpoints.length > 0 && endpoints.every(isLocalEndpoint))) return;
  if ('sendBufferSize' in socket) (socket as { sendBufferSize: number }).sendBufferSize = networkSocketBufferBytes;
  if ('receiveBufferSize' in socket) (socket as { receiveBufferSize: number }).receiveBufferSize = networkSocketBufferBytes;
}

/** --socket-buffer 0: the kernel sizes the buffers itself (Linux's autotuning). */
export const KERNEL_SIZED = 0;
let networkSocketBufferBytes: number = DEFAULTS.socketBufferBytes;

/**
 * Sets the kernel buffer size of every network socket this process opens from now on (--socket-buffer).
 * A process-wide choice, like the link it runs over: a fast link with a long round trip needs more
 * than the default (which caps a connection at about twice this per round trip), and 0 gives the
 * kernel's own sizing, which does not bound the lag on a slow link.
 */
export function setNetworkSocketBuffer(bytes: number): void {
  networkSocketBufferBytes = bytes;
}

/** Binds or connects; returns the endpoint actually bound (a `*` port resolved), or the first connected one. */
export async function attach(socket: Attachable, attachment: Attachment): Promise<string> {
  limitKernelBuffers(socket, attachment);
  if ('bind' in attachment) {
    try {
      await socket.bind(attachment.bind);
    } catch (error) {
      throw new UsageError(`cannot bind ${attachment.bind}: ${describeError(error).toLowerCase()}`);
    }
    return socket.lastEndpoint ?? attachment.bind;
  }
  for (const endpoint of attachment.connect) {
    try {
      socket.connect(endpoint);
    } catch (error) {
      throw new UsageError(`cannot connect to ${endpoint}: ${describeError(error).toLowerCase()}`);
    }
  }
  return attachment.connect[0] ?? '';
}
