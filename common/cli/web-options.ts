import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { describeError, UsageError } from '../errors';
import type { HttpTls } from '../web/http-server';
import { envOption } from './program';
import { collectHostNames, parseToken } from './values';

/** The web surface's access flags (`zerocam-viewer --web`, `zerocam-hub --http`). */
/** The web surface's access options (`zerocam-viewer --web`, `zerocam-hub --http`). */
export function addWebAccessOptions(program: Command): Command {
  return program
    .addOption(envOption('--token <token>', 'the token every web request must carry (default: a random one, printed in the URL at start)', 'TOKEN').argParser(parseToken))
    .addOption(envOption('--allowed-host <name>', 'a Host name the web server answers to besides 127.0.0.1, localhost, [::1] and its bound address (repeatable, or comma-separated)', 'ALLOWED_HOST').argParser(collectHostNames))
    .addOption(envOption('--allow-ipc', 'let a web page ask for ipc:// and inproc:// endpoints, not only tcp://', 'ALLOW_IPC').default(false))
    .addOption(envOption('--tls-cert <file>', 'serve HTTPS with this certificate (PEM, with its chain); needs --tls-key', 'TLS_CERT'))
    .addOption(envOption('--tls-key <file>', 'the private key of --tls-cert (PEM)', 'TLS_KEY'));
}

export interface WebAccessFlags {
  token?: string;
  allowedHost?: string[];
  allowIpc: boolean;
  tlsCert?: string;
  tlsKey?: string;
}

/** Reads --tls-cert and --tls-key, and checks that they make a pair, before any server starts. */
export async function readWebTls(flags: WebAccessFlags): Promise<HttpTls | undefined> {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new UsageError('--tls-cert and --tls-key go together: give both, or neither for plain HTTP');
  const read = async (flag: string, path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (error) {
      throw new UsageError(`cannot read ${flag} ${path}: ${describeError(error)}`);
    }
  };
  const tls = { cert: await read('--tls-cert', flags.tlsCert), key: await read('--tls-key', flags.tlsKey) };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new UsageError(`--tls-cert ${flags.tlsCert} and --tls-key ${flags.tlsKey} are not a usable PEM certificate and its key: ${describeError(error)}`);
  }
  return tls;
}

export const WEB_ACCESS_HELP = `Web access: every request needs the token (the page keeps it in a cookie; scripts send
"Authorization: Bearer TOKEN" or add ?token=TOKEN), and a Host header naming this server.
On a network others share, serve HTTPS (--tls-cert, --tls-key), or the token can be read off the wire.`;
