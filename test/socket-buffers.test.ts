import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as zmq from 'zeromq';
import { DEFAULTS } from '../common/defaults';
import { isLocalEndpoint } from '../common/endpoint';
import { attach, type Attachment } from '../common/socket-options';
import { ipcEndpoint } from './helpers/endpoints';

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
