import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { DEFAULTS } from '../defaults';

export interface AccessOptions {
  /** The secret every request must carry; a random one when not given (--token / ZEROCAM_TOKEN). */
  token?: string | undefined;
  /** The address the server listens on: allowed as a Host name unless it is a wildcard. */
  boundHost: string;
  /** More names the Host header may carry (--allowed-host), e.g. the machine's DNS name. */
  allowedHosts?: readonly string[] | undefined;
  /** Served over TLS: the cookie is marked Secure, so a browser never sends it over plain HTTP. */
  secure?: boolean;
}

export type AccessVerdict =
  /** Let in; `setCookie` when the token came in the URL, so the page keeps it. */
  | { allowed: true; setCookie: string | undefined }
  | { allowed: false; status: 400 | 401 | 403; reason: string };

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '[::]', '*']);

/**
 * Who may use zerocam's HTTP server (docs/protocol.md, "Web access"). Two checks, on every request
 * and WebSocket upgrade alike:
 *
 * - there must be exactly one Host header (RFC 9112, 3.2: more than one is a 400, as Node would
 *   otherwise keep the first and drop the rest unseen), and it must name this server (loopback, the bound address, or --allowed-host), so a
 *   web page that rebinds its own DNS name to this address is refused (403);
 * - the token must come as the cookie the page keeps, as `Authorization: Bearer`, or as `?token=`
 *   (so `<img src>`, VLC and Home Assistant can open MJPEG and snapshot URLs); else 401.
 */
export class AccessControl {
  readonly token: string;
  /** Per port, so two zerocam servers on one host (cookies ignore ports) keep their own. */
  readonly cookieName: string;
  private readonly tokenDigest: Buffer;
  private readonly hosts: ReadonlySet<string>;
  private readonly cookieAttributes: string;

  constructor(options: AccessOptions, port: number) {
    this.cookieAttributes = `HttpOnly; SameSite=Strict; Path=/${options.secure ? '; Secure' : ''}`;
    this.token = options.token ?? randomBytes(DEFAULTS.webTokenBytes).toString('base64url');
    this.tokenDigest = digest(this.token);
    this.cookieName = `zerocam_token_${port}`;
    const bound = options.boundHost.includes(':') && !options.boundHost.startsWith('[') ? `[${options.boundHost}]` : options.boundHost;
    const names = [...LOOPBACK_NAMES, ...(WILDCARD_HOSTS.has(bound) ? [] : [bound]), ...(options.allowedHosts ?? [])];
    this.hosts = new Set(names.map((name) => name.toLowerCase()));
  }

  check(req: IncomingMessage): AccessVerdict {
    const hostHeaders = countHeader(req.rawHeaders, 'host');
    if (hostHeaders > 1) return { allowed: false, status: 400, reason: `${hostHeaders} Host headers; a request carries exactly one` };
    const host = hostName(req.headers.host);
    if (host === undefined || !this.hosts.has(host)) {
      return { allowed: false, status: 403, reason: `Host ${JSON.stringify(req.headers.host ?? '')} is not this server's name (see --allowed-host)` };
    }
    const fromCookie = cookieValue(req.headers.cookie, this.cookieName);
    if (fromCookie !== undefined && this.matches(fromCookie)) return { allowed: true, setCookie: undefined };
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (bearer !== undefined && this.matches(bearer)) return { allowed: true, setCookie: undefined };
    const fromQuery = queryToken(req.url);
    if (fromQuery !== undefined && this.matches(fromQuery)) {
      return { allowed: true, setCookie: `${this.cookieName}=${this.token}; ${this.cookieAttributes}` };
    }
    return { allowed: false, status: 401, reason: 'a token is needed: open the URL the server printed at start (it ends in ?token=...)' };
  }

  /** The address to open: the server's URL with the token. */
  urlWithToken(url: string): string {
    const withToken = new URL(url);
    withToken.searchParams.set('token', this.token);
    return withToken.href;
  }

  private matches(candidate: string): boolean {
    // Digests have equal lengths, so the comparison takes the same time whatever was sent.
    return timingSafeEqual(digest(candidate), this.tokenDigest);
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** How many times a header came (Node's req.headers keeps only the first Host, or joins others). */
function countHeader(rawHeaders: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) count++;
  return count;
}

/** The name in a Host header, lower case, without its port: "[::1]:8080" -> "[::1]". */
function hostName(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]\s]+)(?::\d{1,5})?$/.exec(header.trim());
  return match?.[1]?.toLowerCase();
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals > 0 && pair.slice(0, equals).trim() === name) return pair.slice(equals + 1).trim();
  }
  return undefined;
}

function queryToken(url: string | undefined): string | undefined {
  const query = url?.indexOf('?') ?? -1;
  if (!url || query < 0) return undefined;
  return new URLSearchParams(url.slice(query + 1)).get('token') ?? undefined;
}
