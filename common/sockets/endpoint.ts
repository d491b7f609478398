import { lookup } from 'node:dns/promises';
import { statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { describeError, UsageError } from '../errors';

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
 * The host name in a tcp:// endpoint, or undefined when it names an address or is not tcp.
 * libzmq looks the name up each time it dials, and dials one that does not resolve for ever,
 * without a word: it reports a bare `connect:retry`, with no reason.
 */
export function hostNameOf(endpoint: string): string | undefined {
  // tcp://[SOURCE;]HOST:PORT; an IPv6 address is in brackets.
  const host = /^tcp:\/\/(?:[^;]*;)?([^:[\]/\s;]+):\d+$/.exec(endpoint)?.[1];
  return host === undefined || isIP(host) !== 0 ? undefined : host;
}

/** dns.lookup, or a stand-in for it in tests. */
export type HostLookup = (host: string) => Promise<unknown>;

/** Why a host name does not resolve now. `missing`: the name server says there is no such name. */
export interface HostProblem {
  missing: boolean;
  reason: string;
}

/** A connect endpoint whose host name could not be looked up, though it may exist. */
export interface UncertainHost {
  endpoint: string;
  host: string;
  reason: string;
}

/** Looks `host` up as libzmq will (getaddrinfo, through dns.lookup); undefined if it resolves. */
export async function hostProblem(host: string, resolve: HostLookup = lookup): Promise<HostProblem | undefined> {
  try {
    await resolve(host);
    return undefined;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    // Node reports EAI_NONAME and EAI_NODATA as ENOTFOUND; EAI_AGAIN and the rest say the resolver could not tell.
    if (code === 'ENOTFOUND') return { missing: true, reason: `${host} does not resolve (no such host)` };
    return { missing: false, reason: `${host} could not be looked up (${typeof code === 'string' ? code : describeError(error)})` };
  }
}

/** Why an ipc:// endpoint cannot be connected to: its directory is missing. A missing socket file is fine: its peer may bind later. */
function ipcProblem(endpoint: string): string | undefined {
  const path = /^ipc:\/\/(.+)$/.exec(endpoint)?.[1];
  // '@name' is Linux's abstract namespace: no file, no directory.
  if (path === undefined || path.startsWith('@')) return undefined;
  const directory = dirname(path);
  const stats = statSync(directory, { throwIfNoEntry: false });
  if (stats === undefined) return `the directory ${directory} does not exist`;
  if (!stats.isDirectory()) return `${directory} is not a directory`;
  return undefined;
}

/**
 * Checks the endpoints a program will connect to, before any socket does: libzmq accepts every
 * one and then retries in silence for ever. A host name that does not exist, or an ipc path whose
 * directory does not, is a UsageError. A name server that cannot answer is not: at boot the
 * network may not be up yet, so its reasons are returned, for a warning, and libzmq keeps trying.
 */
export async function checkConnectEndpoints(endpoints: readonly string[], resolve: HostLookup = lookup): Promise<UncertainHost[]> {
  const uncertain: UncertainHost[] = [];
  for (const endpoint of endpoints) {
    const ipc = ipcProblem(endpoint);
    if (ipc !== undefined) throw new UsageError(`cannot connect to ${endpoint}: ${ipc}`);
    const host = hostNameOf(endpoint);
    if (host === undefined) continue;
    const problem = await hostProblem(host, resolve);
    if (problem?.missing) throw new UsageError(`cannot connect to ${endpoint}: ${problem.reason}`);
    if (problem) uncertain.push({ endpoint, host, reason: problem.reason });
  }
  return uncertain;
}

/**
 * While a program runs, looks the host names of its connect endpoints up again every `intervalMs`,
 * one at a time, and calls `onChange` when one stops resolving (with why) or resolves again
 * (undefined). libzmq reports neither: it redials a name that does not resolve with a bare
 * `connect:retry`, as it does a refused connection. A connection that is up is not affected: libzmq
 * looks a name up only to dial. `failing`: the names already known not to resolve, and why.
 * Close it with the sockets.
 */
export class HostNameWatch {
  private readonly hosts: readonly string[];
  private readonly failing: Map<string, string>;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    endpoints: readonly string[],
    private readonly onChange: (host: string, problem: string | undefined) => void,
    private readonly intervalMs: number,
    failing: ReadonlyMap<string, string> = new Map(),
    private readonly resolve: HostLookup = lookup,
  ) {
    this.failing = new Map(failing);
    this.hosts = [...new Set(endpoints.map(hostNameOf).filter((host) => host !== undefined))];
    this.schedule();
  }

  private schedule(): void {
    if (this.closed || this.hosts.length === 0) return;
    this.timer = setTimeout(() => void this.round(), this.intervalMs);
  }

  private async round(): Promise<void> {
    for (const host of this.hosts) {
      const problem = await hostProblem(host, this.resolve);
      if (this.closed) return;
      if (problem?.reason === this.failing.get(host)) continue;
      if (problem) this.failing.set(host, problem.reason);
      else this.failing.delete(host);
      this.onChange(host, problem?.reason);
    }
    this.schedule();
  }

  /** Idempotent. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
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
