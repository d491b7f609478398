import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, copyFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { MAGIC } from '../common/wire/protocol';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';

const SMALL = ['--width', '320', '--height', '240', '--fps', '60'];
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);

interface Keys {
  dir: string;
  /** The sender's key pair (it binds: the CURVE server). */
  cam: string;
  /** A receiver key listed in the allowlist directory. */
  allowed: string;
  /** A valid key that no allowlist lists. */
  stranger: string;
  /** Holds allowed.pub only. */
  allowlist: string;
}

function start(t: TestContext, name: 'sender' | 'receiver' | 'keys', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

async function generate(t: TestContext, name: string): Promise<void> {
  const keys = start(t, 'keys', ['generate', name]);
  assert.equal((await keys.exited).code, 0, keys.stderr.join('\n'));
}

async function makeKeys(t: TestContext): Promise<Keys> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-curve-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keys = { dir, cam: join(dir, 'cam'), allowed: join(dir, 'recorder'), stranger: join(dir, 'stranger'), allowlist: join(dir, 'allowed') };
  await Promise.all([generate(t, keys.cam), generate(t, keys.allowed), generate(t, keys.stranger)]);
  await mkdir(keys.allowlist);
  await copyFile(`${keys.allowed}.pub`, join(keys.allowlist, 'recorder.pub'));
  return keys;
}

function bindFor(transport: 'tcp' | 'ipc'): string {
  return transport === 'tcp' ? 'tcp://127.0.0.1:*' : ipcEndpoint();
}

const isEvent = (event: string) => (record: JsonRecord) => record.event === event;

/** Stops a receiver that should have seen nothing, and returns the frames its summary counts. */
async function framesAtExit(receiver: CliProcess, statsFile: string): Promise<number> {
  receiver.kill('SIGTERM');
  assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
  return Number((JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord).frames);
}

describe('CURVE through the CLIs', () => {
  for (const transport of ['tcp', 'ipc'] as const) {
    describe(`over ${transport}`, () => {
      test('a receiver whose key is in the allowlist gets frames', async (t) => {
        const keys = await makeKeys(t);
        const sender = start(t, 'sender', ['--bind', bindFor(transport), '--topic', 'cam1', ...SMALL, '--no-stats', '--curve-key', `${keys.cam}.key`, '--curve-allow', keys.allowlist]);
        const endpoint = await sender.ready();
        const statsFile = join(keys.dir, 'stats.json');
        const receiver = start(t, 'receiver', ['--connect', endpoint, '--frames', '5', '--no-stats', '--stats-json', statsFile, '--curve-server', `${keys.cam}.pub`, '--curve-key', `${keys.allowed}.key`]);
        assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
        assert.equal((JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord).frames, 5);
        await receiver.waitForJson('stderr', isEvent('curve-handshake'));
        const announced = await sender.waitForJson('stderr', isEvent('curve'));
        assert.deepEqual([announced.role, announced.authenticated, announced.allowed], ['server', true, 1]);
      });

      test('a receiver with an unknown key gets no frames, and the sender logs it once and counts it as denied', async (t) => {
        const keys = await makeKeys(t);
        const sender = start(t, 'sender', ['--bind', bindFor(transport), '--topic', 'cam1', ...SMALL, '--curve-key', `${keys.cam}.key`, '--curve-allow', keys.allowlist]);
        const endpoint = await sender.ready();
        const statsFile = join(keys.dir, 'stats.json');
        const receiver = start(t, 'receiver', ['--connect', endpoint, '--no-stats', '--stats-json', statsFile, '--curve-server', `${keys.cam}.pub`, '--curve-key', `${keys.stranger}.key`]);
        const strangerKey = (await readFile(`${keys.stranger}.pub`, 'utf8')).match(/public-key = "(.{40})"/)![1];
        const denied = await sender.waitForJson('stderr', isEvent('curve-denied'));
        assert.equal(denied.publicKey, strangerKey);
        const refused = await receiver.waitForJson('stderr', isEvent('curve-handshake-failed'));
        assert.match(String(refused.msg), /refused this client's key/);
        // Two more refusals of the same client, then it is still one log line.
        await sender.waitForJson('stdout', (r) => Number(r.denied) >= 3);
        assert.equal(sender.stderr.filter((line) => line.includes('"curve-denied"')).length, 1);
        assert.equal(await framesAtExit(receiver, statsFile), 0);
      });

      test('a receiver expecting another server key gets no frames and says why', async (t) => {
        const keys = await makeKeys(t);
        const sender = start(t, 'sender', ['--bind', bindFor(transport), '--topic', 'cam1', ...SMALL, '--no-stats', '--curve-key', `${keys.cam}.key`]);
        const endpoint = await sender.ready();
        const statsFile = join(keys.dir, 'stats.json');
        const receiver = start(t, 'receiver', ['--connect', endpoint, '--no-stats', '--stats-json', statsFile, '--curve-server', `${keys.stranger}.pub`]);
        const failed = await receiver.waitForJson('stderr', isEvent('curve-handshake-failed'));
        assert.match(String(failed.msg), /--curve-server is not its key/);
        await sender.waitForJson('stderr', isEvent('curve-handshake-failed'));
        assert.equal(await framesAtExit(receiver, statsFile), 0);
      });

      test('a receiver without CURVE gets no frames from a CURVE sender', async (t) => {
        const keys = await makeKeys(t);
        const sender = start(t, 'sender', ['--bind', bindFor(transport), '--topic', 'cam1', ...SMALL, '--no-stats', '--curve-key', `${keys.cam}.key`]);
        const endpoint = await sender.ready();
        const statsFile = join(keys.dir, 'stats.json');
        const receiver = start(t, 'receiver', ['--connect', endpoint, '--no-stats', '--stats-json', statsFile]);
        const failed = await sender.waitForJson('stderr', isEvent('curve-handshake-failed'));
        assert.match(String(failed.msg), /does not use CURVE/);
        assert.equal(await framesAtExit(receiver, statsFile), 0);
      });

      test('a CURVE receiver says so when the sender does not speak CURVE', async (t) => {
        const keys = await makeKeys(t);
        const sender = start(t, 'sender', ['--bind', bindFor(transport), '--topic', 'cam1', ...SMALL, '--no-stats']);
        const endpoint = await sender.ready();
        const statsFile = join(keys.dir, 'stats.json');
        const receiver = start(t, 'receiver', ['--connect', endpoint, '--no-stats', '--stats-json', statsFile, '--curve-server', `${keys.cam}.pub`]);
        const failed = await receiver.waitForJson('stderr', isEvent('curve-handshake-failed'));
        assert.match(String(failed.msg), /does not speak CURVE/);
        assert.equal(await framesAtExit(receiver, statsFile), 0);
      });
    });
  }

  test('a PUSH sender that connects encrypts to a PULL receiver that binds with an allowlist', async (t) => {
    const keys = await makeKeys(t);
    const statsFile = join(keys.dir, 'stats.json');
    const receiver = start(t, 'receiver', ['--pattern', 'pull', '--bind', 'tcp://127.0.0.1:*', '--frames', '5', '--no-stats', '--stats-json', statsFile, '--curve-key', `${keys.cam}.key`, '--curve-allow', `${keys.allowed}.pub`]);
    const endpoint = await receiver.ready();
    const sender = start(t, 'sender', ['--pattern', 'push', '--connect', endpoint, '--topic', 'cam1', ...SMALL, '--no-stats', '--curve-server', `${keys.cam}.pub`, '--curve-key', `${keys.allowed}.key`]);
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    assert.equal((JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord).frames, 5);
    sender.kill('SIGTERM');
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
  });

  test('a sender without --curve-allow warns that any client with its public key may connect', async (t) => {
    const keys = await makeKeys(t);
    const sender = start(t, 'sender', ['--bind', 'tcp://127.0.0.1:*', ...SMALL, '--no-stats', '--curve-key', `${keys.cam}.key`]);
    const announced = await sender.waitForJson('stderr', isEvent('curve'));
    assert.equal(announced.authenticated, false);
    assert.match(String(announced.msg), /NOT authenticated/);
  });

  for (const [what, args, message] of [
    ['--curve-allow without --curve-key', ['--bind', 'tcp://127.0.0.1:*', '--curve-allow', 'KEYS/recorder.pub'], /--curve-allow needs --curve-key/],
    ['--curve-server on a side that binds', ['--bind', 'tcp://127.0.0.1:*', '--curve-key', 'KEYS/cam.key', '--curve-server', 'KEYS/cam.pub'], /--curve-server is for a side that connects/],
    ['--curve-key on a side that connects without --curve-server', ['--connect', 'tcp://127.0.0.1:9', '--curve-key', 'KEYS/cam.key'], /needs --curve-server/],
    ['a missing key file', ['--curve-key', 'KEYS/nothing.key'], /--curve-key.*cannot read/],
    ['a public key file given as --curve-key', ['--curve-key', 'KEYS/cam.pub'], /holds only a public key/],
    ['a secret key file in an allowlist', ['--bind', 'tcp://127.0.0.1:*', '--curve-key', 'KEYS/cam.key', '--curve-allow', 'KEYS/recorder.key'], /allowlist takes public keys/],
  ] as const) {
    test(`the sender refuses ${what} with one line and exit code 2`, async (t) => {
      const keys = await makeKeys(t);
      const sender = start(t, 'sender', [...args.map((a) => a.replace('KEYS', keys.dir)), '--no-stats']);
      const { code } = await sender.exited;
      assert.equal(code, 2, sender.stderr.join('\n'));
      assert.equal(sender.stderr.length, 1, sender.stderr.join('\n'));
      assert.match(sender.stderr[0]!, message);
    });
  }

  test('ZEROCAM_CURVE_* environment variables set the same options', async (t) => {
    const keys = await makeKeys(t);
    const sender = new CliProcess('sender', ['--bind', 'tcp://127.0.0.1:*', ...SMALL, '--no-stats'], { ZEROCAM_CURVE_KEY: `${keys.cam}.key`, ZEROCAM_CURVE_ALLOW: keys.allowlist });
    t.after(() => sender.stop());
    const endpoint = await sender.ready();
    const statsFile = join(keys.dir, 'stats.json');
    const receiver = new CliProcess('receiver', ['--connect', endpoint, '--frames', '3', '--no-stats', '--stats-json', statsFile], {
      ZEROCAM_CURVE_SERVER: `${keys.cam}.pub`,
      ZEROCAM_CURVE_KEY: `${keys.allowed}.key`,
    });
    t.after(() => receiver.stop());
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    assert.equal((JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord).frames, 3);
  });
});

/** A TCP relay that keeps every byte it forwards, in both directions. */
class SniffingRelay {
  readonly captured: Buffer[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(targetPort: number): Promise<SniffingRelay> {
    const server = createServer();
    const relay = new SniffingRelay(server);
    server.on('connection', (client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        relay.sockets.add(from);
        from.on('data', (chunk: Buffer) => {
          relay.captured.push(chunk);
          to.write(chunk);
        });
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('relay is not listening');
    return address.port;
  }

  bytes(): Buffer {
    return Buffer.concat(this.captured);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('what a sniffer between sender and receiver sees', () => {
  for (const curve of [true, false]) {
    test(curve ? 'with CURVE: neither the ZCAM magic nor a JPEG marker' : 'in plaintext (the control): both the ZCAM magic and JPEG markers', async (t) => {
      const keys = await makeKeys(t);
      const curveSender = curve ? ['--curve-key', `${keys.cam}.key`, '--curve-allow', keys.allowlist] : [];
      const curveReceiver = curve ? ['--curve-server', `${keys.cam}.pub`, '--curve-key', `${keys.allowed}.key`] : [];
      const sender = start(t, 'sender', ['--bind', 'tcp://127.0.0.1:*', '--topic', 'cam1', ...SMALL, '--no-stats', ...curveSender]);
      const port = Number(new URL((await sender.ready()).replace('tcp://', 'http://')).port);
      const relay = await SniffingRelay.start(port);
      t.after(() => relay.close());
      const statsFile = join(keys.dir, 'stats.json');
      const receiver = start(t, 'receiver', ['--connect', `tcp://127.0.0.1:${relay.port}`, '--frames', '10', '--no-stats', '--stats-json', statsFile, ...curveReceiver]);
      assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
      assert.equal((JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord).frames, 10, 'the frames went through the relay');
      const bytes = relay.bytes();
      assert.ok(bytes.length > 10 * 1000, `captured ${bytes.length} bytes`);
      assert.equal(bytes.includes(MAGIC), !curve);
      assert.equal(bytes.includes(JPEG_SOI), !curve);
    });
  }
});
