import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TRANSPORTS = ['tcp', 'ipc', 'inproc'] as const;
export type Transport = (typeof TRANSPORTS)[number];

let counter = 0;
let socketDir: string | undefined;

/** A fresh ipc:// endpoint in a temp dir of this test process's own, removed when it exits. */
export function ipcEndpoint(): string {
  if (socketDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'zc-ipc-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    socketDir = dir;
  }
  return `ipc://${join(socketDir, `${++counter}.sock`)}`;
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
