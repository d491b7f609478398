import { DEFAULTS } from '../defaults';
import type { Logger } from '../log';
import { checkConnectEndpoints, hostNameOf, HostNameWatch } from '../sockets/endpoint';

/**
 * The endpoints a program connects to (--connect, the hub's --senders-connect), checked before any
 * socket connects, and watched while it runs; every program does it here. A host name that does not
 * exist, or an ipc path whose directory does not, is a UsageError (one line, exit 2); a name server
 * that does not answer is a warning. Later, a host name that stops resolving is a warning, once, and
 * one that resolves again is said once too: libzmq redials either way, in silence. Close the watch
 * with the sockets.
 */
export async function checkAndWatchConnectEndpoints(endpoints: readonly string[], log: Logger): Promise<HostNameWatch> {
  const uncertain = await checkConnectEndpoints(endpoints);
  for (const { endpoint, host, reason } of uncertain) {
    log.warn({ event: 'host-unresolved', endpoint, host }, `${endpoint}: ${reason}; connecting anyway, and libzmq keeps trying`);
  }
  const onChange = (host: string, problem: string | undefined): void => {
    const at = endpoints.filter((endpoint) => hostNameOf(endpoint) === host);
    if (problem) log.warn({ event: 'host-unresolved', host, endpoints: at }, `${problem}; libzmq redials ${at.join(', ')} until it resolves again (a connection that is up stays up)`);
    else log.info({ event: 'host-resolved', host, endpoints: at }, `${host} resolves again`);
  };
  return new HostNameWatch(endpoints, onChange, DEFAULTS.hostNameRecheckMs, new Map(uncertain.map(({ host, reason }) => [host, reason])));
}
