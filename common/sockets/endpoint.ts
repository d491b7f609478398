import { UsageError } from '../errors';

export type EndpointRole = 'bind' | 'connect';

/** Unix socket paths longer than this are rejected by the kernel (sun_path is 108 bytes). */
const MAX_IPC_PATH = 107;

/**
 * Checks a ZeroMQ endpoint before libzmq sees it, so a typo gets a readable message instead of
 * "Invalid argument". Accepts tcp://HOST:PORT (HOST `*` and PORT `*` only for bind), ipc://PATH
 * and inproc://NAME. Returns the endpoint unchanged.
 */
export function parseEndpoint(raw: string, role: EndpointRole): string {
  const match = /^([a-z]+):\/\/(.+)$/.exec(raw);
  if (!match) throw new UsageError(`invalid endpoint "${raw}": expected tcp://HOST:PORT, ipc://PATH or inproc://NAME`);
  const [, transport, address] = match as unknown as [string, string, string];
  switch (transport) {
    case 'tcp': {
      const tcp = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/\s]+):(\d+|\*)$/.exec(address);
      if (!tcp) throw new UsageError(`invalid endpoint "${raw}": expected tcp://HOST:PORT`);
      const [, host, port] = tcp as unknown as [string, string, string];
      if (role === 'connect' && (host === '*' || port === '*')) {
        throw new UsageError(`invalid endpoint "${raw}": to connect, name a host and a port (tcp://camhost:5555)`);
      }
      if (port !== '*' && (Number(port) < 1 || Number(port) > 65535)) {
        throw new UsageError(`invalid endpoint "${raw}": port must be 1-65535`);
      }
      return raw;
    }
    case 'ipc':
      if (Buffer.byteLength(address) > MAX_IPC_PATH) {
        throw new UsageError(`invalid endpoint "${raw}": ipc paths are limited to ${MAX_IPC_PATH} bytes`);
      }
      return raw;
    case 'inproc':
      return raw;
    default:
      throw new UsageError(`invalid endpoint "${raw}": unsupported transport "${transport}" (use tcp, ipc or inproc)`);
  }
}

/**
 * An endpoint whose traffic never leaves this host: ipc, inproc, or tcp on a loopback address.
 * No slow link can sit behind one, so it needs none of the small kernel buffers that bound lag on
 * a network (#11), and they would only cost it throughput and CPU.
 */
export function isLocalEndpoint(endpoint: string): boolean {
  const match = /^([a-z]+):\/\/(.*)$/.exec(endpoint);
  if (!match) return false;
  const [, transport, address] = match as unknown as [string, string, string];
  if (transport === 'ipc' || transport === 'inproc') return true;
  if (transport !== 'tcp') return false;
  const host = address.slice(0, address.lastIndexOf(':'));
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
