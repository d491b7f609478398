import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TRANSPORTS = ['tcp', 'ipc', 'inproc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

let counter = 0;

/** A fresh ipc:// endpoint in the temp dir, unique per process and call. */
export function ipcEndpoint(): string {
  return `ipc://${join(tmpdir(), `zc-${process.pid}-${++counter}.sock`)}`;
}

/** A TCP port the kernel just handed out, for tests that need the port number before binding. */
export async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** Where to bind for a transport. tcp uses an ephemeral port: read the real one from the bound socket. */
export function bindEndpoint(transport: Transport): string {
  switch (transport) {
    case 'tcp':
      return 'tcp://127.0.0.1:*';
    case 'ipc':
      return ipcEndpoint();
    case 'inproc':
      return `inproc://zc-${process.pid}-${++counter}`;
  }
}
