import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import * as zmq from 'zeromq';
import { DEFAULTS } from '../common/defaults';
import { isLocalEndpoint } from '../common/sockets/endpoint';
import { attach, type Attachment } from '../common/sockets/socket-options';
import { CliProcess } from './helpers/cli-process';
import { freeTcpPort, ipcEndpoint } from './helpers/endpoints';

const run = promisify(execFile);

/** zeromq.js reports -1 for a buffer size left to the kernel's default. */
const KERNEL_DEFAULT = -1;

describe('isLocalEndpoint', () => {
  const cases: [string, boolean][] = [
    ['ipc:///tmp/zerocam.sock', true],
    ['inproc://frames', true],
    ['tcp://127.0.0.1:5555', true],
    ['tcp://127.10.0.3:*', true],
    ['tcp://localhost:5555', true],
    ['tcp://[::1]:5555', true],
    ['tcp://*:5555', false],
    ['tcp://0.0.0.0:5555', false],
    ['tcp://192.168.1.20:5555', false],
    ['tcp://camhost:5555', false],
    ['tcp://[fe80::1]:5555', false],
    ['tcp://127.0.0.1.example.com:5555', false],
  ];
  for (const [endpoint, local] of cases) {
    test(`${endpoint} is ${local ? 'local' : 'not local'}`, () => assert.equal(isLocalEndpoint(endpoint), local));
  }
});

describe('kernel buffers: small where a slow link can be, the kernel default where none can', () => {
  async function buffersAfter(attachment: Attachment): Promise<{ send: number; receive: number }> {
    const socket = new zmq.XPublisher({ linger: 0 });
    try {
      await attach(socket, attachment);
      return { send: socket.sendBufferSize, receive: socket.receiveBufferSize };
    } finally {
      socket.close();
    }
  }

  test('a socket bound to every interface gets the small buffers', async () => {
    assert.deepEqual(await buffersAfter({ bind: 'tcp://*:*' }), { send: DEFAULTS.socketBufferBytes, receive: DEFAULTS.socketBufferBytes });
  });

  test('a socket bound to loopback or ipc keeps the kernel default', async () => {
    assert.deepEqual(await buffersAfter({ bind: 'tcp://127.0.0.1:*' }), { send: KERNEL_DEFAULT, receive: KERNEL_DEFAULT });
    assert.deepEqual(await buffersAfter({ bind: ipcEndpoint() }), { send: KERNEL_DEFAULT, receive: KERNEL_DEFAULT });
  });

  test('a socket that connects to a remote host as well as to loopback gets the small buffers', async () => {
    const mixed = await buffersAfter({ connect: ['tcp://127.0.0.1:5', 'tcp://192.0.2.1:5'] });
    assert.equal(mixed.send, DEFAULTS.socketBufferBytes);
    assert.equal((await buffersAfter({ connect: ['tcp://127.0.0.1:5'] })).send, KERNEL_DEFAULT);
  });
});

describe('--socket-buffer', () => {
  /** The kernel's send buffer (Linux doubles what is asked) of the sender's side of its one connection, from ss. */
  async function senderSendBuffer(t: TestContext, senderArgs: readonly string[]): Promise<number> {
    const port = await freeTcpPort();
    const sender = new CliProcess('sender', ['--bind', `tcp://0.0.0.0:${port}`, '--width', '160', '--height', '120', '--no-stats', ...senderArgs]);
    t.after(() => sender.stop());
    await sender.ready();
    const receiver = new CliProcess('receiver', ['--connect', `tcp://127.0.0.1:${port}`]);
    t.after(() => receiver.stop());
    await receiver.waitForJson('stdout', (record) => typeof record.frames === 'number' && record.frames > 0);
    const { stdout } = await run('ss', ['-tmnH', 'state', 'established', `( sport = :${port} )`]);
    const sizes = [...stdout.matchAll(/\btb(\d+)\b/g)].map((match) => Number(match[1]));
    assert.equal(sizes.length, 1, stdout);
    return sizes[0] ?? 0;
  }

  test('by default a socket bound to every interface has 16 KiB (doubled by Linux) whoever connects', async (t) => {
    assert.equal(await senderSendBuffer(t, []), 2 * DEFAULTS.socketBufferBytes);
  });

  test('--socket-buffer 65536 gives that socket 64 KiB (doubled by Linux)', async (t) => {
    assert.equal(await senderSendBuffer(t, ['--socket-buffer', '65536']), 2 * 65536);
  });

  for (const bad of ['-1', 'big', '1e9']) {
    test(`--socket-buffer ${bad} is a usage error: one line, exit 2`, async () => {
      const sender = new CliProcess('sender', ['--socket-buffer', bad]);
      const { code } = await sender.exited;
      assert.equal(code, 2);
      assert.equal(sender.stderr.length, 1, sender.stderr.join('\n'));
      assert.match(sender.stderr[0] ?? '', /^zerocam-sender: .*--socket-buffer/);
    });
  }
});
