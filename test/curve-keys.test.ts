import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { publicKeyOf, readAllowlist, readKeyFile, readServerKey } from '../common/sockets/curve-keys';
import { KeyFileError } from '../common/errors';
import { z85Decode, z85Encode } from '../common/sockets/z85';
import { CliProcess } from './helpers/cli-process';
import { tempDir } from './helpers/temp-dir';

async function keysCli(t: TestContext, ...args: string[]): Promise<{ code: number | null; stdout: string[]; stderr: string[] }> {
  const child = new CliProcess('keys', args);
  t.after(() => child.stop());
  const { code } = await child.exited;
  return { code, stdout: child.stdout, stderr: child.stderr };
}

describe('Z85', () => {
  test('encodes the RFC 32 test vector', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    assert.equal(z85Encode(bytes), 'HelloWorld');
    assert.deepEqual(z85Decode('HelloWorld'), bytes);
  });

  test('round-trips the keys libzmq generates', () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = zmq.curveKeyPair();
      for (const key of [publicKey, secretKey]) assert.equal(z85Encode(z85Decode(key)!), key);
    }
  });

  test('rejects text that is not Z85', () => {
    assert.equal(z85Decode('Hello'.repeat(7) + 'Worl'), undefined, 'length not a multiple of 5');
    assert.equal(z85Decode('Hello~orld'), undefined, 'a character outside the alphabet');
    assert.equal(z85Decode('#####'), undefined, 'a group above 2^32');
  });
});

describe('zerocam-keys', () => {
  test('generate writes NAME.key (mode 0600, secret and public) and NAME.pub, and prints the public key', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    const result = await keysCli(t, 'generate', join(dir, 'cam1'));
    assert.equal(result.code, 0, result.stderr.join('\n'));
    const secret = readKeyFile(join(dir, 'cam1.key'));
    const pub = readKeyFile(join(dir, 'cam1.pub'));
    assert.equal((await stat(join(dir, 'cam1.key'))).mode & 0o777, 0o600);
    assert.equal(pub.secretKey, undefined);
    assert.equal(pub.publicKey, secret.publicKey);
    assert.ok(secret.secretKey !== undefined && secret.secretKey !== secret.publicKey);
    assert.deepEqual(result.stdout, [secret.publicKey]);
    assert.doesNotMatch(await readFile(join(dir, 'cam1.pub'), 'utf8'), /secret-key/);
  });

  test('the generated pair works as a CURVE key pair in libzmq', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    assert.equal((await keysCli(t, 'generate', join(dir, 'server'))).code, 0);
    const keys = readKeyFile(join(dir, 'server.key'));
    const server = new zmq.Pair({ linger: 0, curveServer: true, curveSecretKey: keys.secretKey! });
    const own = zmq.curveKeyPair();
    const client = new zmq.Pair({ linger: 0, curveServerKey: readServerKey(join(dir, 'server.pub')), curvePublicKey: own.publicKey, curveSecretKey: own.secretKey });
    t.after(() => {
      server.close();
      client.close();
    });
    await server.bind('tcp://127.0.0.1:*');
    client.connect(server.lastEndpoint!);
    await client.send('over CURVE');
    const [message] = await server.receive();
    assert.equal(message!.toString(), 'over CURVE');
  });

  test("pyzmq's zmq.auth.load_certificate reads both files (czmq's certificate layout)", async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    assert.equal((await keysCli(t, 'generate', join(dir, 'cam1'))).code, 0);
    const script = 'import sys, zmq.auth\nfor f in sys.argv[1:]:\n    pub, sec = zmq.auth.load_certificate(f)\n    print(pub.decode(), sec.decode() if sec else "-")';
    // Debian's python3 with python3-zmq, which scripts/setup.sh installs.
    const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, join(dir, 'cam1.key'), join(dir, 'cam1.pub')]);
    const keys = readKeyFile(join(dir, 'cam1.key'));
    assert.deepEqual(stdout.trim().split('\n'), [`${keys.publicKey} ${keys.secretKey}`, `${keys.publicKey} -`]);
  });

  test('show prints the public key of a .key or a .pub file', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    const generated = await keysCli(t, 'generate', join(dir, 'cam1'));
    for (const file of ['cam1.key', 'cam1.pub']) {
      const shown = await keysCli(t, 'show', join(dir, file));
      assert.equal(shown.code, 0, shown.stderr.join('\n'));
      assert.deepEqual(shown.stdout, generated.stdout);
    }
  });

  test('generate refuses to overwrite either file, and leaves both as they were', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    await writeFile(join(dir, 'cam1.pub'), 'precious\n');
    const result = await keysCli(t, 'generate', join(dir, 'cam1'));
    assert.equal(result.code, 2);
    assert.deepEqual(result.stderr, [`zerocam-keys: ${join(dir, 'cam1.pub')} already exists; not overwriting it`]);
    assert.equal(await readFile(join(dir, 'cam1.pub'), 'utf8'), 'precious\n');
    await assert.rejects(stat(join(dir, 'cam1.key')), { code: 'ENOENT' });

    assert.equal((await keysCli(t, 'generate', join(dir, 'cam2'))).code, 0);
    const before = await readFile(join(dir, 'cam2.key'), 'utf8');
    const again = await keysCli(t, 'generate', join(dir, 'cam2'));
    assert.equal(again.code, 2);
    assert.equal(await readFile(join(dir, 'cam2.key'), 'utf8'), before);
  });

  for (const mode of [0o640, 0o604, 0o660]) {
    test(`a secret key file with mode 0${mode.toString(8)} is refused with one line and exit code 2`, async (t) => {
      const dir = await tempDir(t, 'zc-keys-');
      await keysCli(t, 'generate', join(dir, 'cam1'));
      await chmod(join(dir, 'cam1.key'), mode);
      const result = await keysCli(t, 'show', join(dir, 'cam1.key'));
      assert.equal(result.code, 2);
      assert.equal(result.stderr.length, 1);
      assert.match(result.stderr[0]!, /holds a secret key but its permissions are 0\d+; run: chmod 600/);
      assert.deepEqual(result.stdout, []);
    });
  }

  for (const [what, text] of [
    ['a file that is not a key file', 'hello world\n'],
    ['a key that is too short', 'curve\n    public-key = "abc"\n'],
    ['two public keys in one .pub file', `${zmq.curveKeyPair().publicKey}\n${zmq.curveKeyPair().publicKey}\n`],
    ['an empty file', ''],
  ] as const) {
    test(`show refuses ${what} with one line and exit code 2`, async (t) => {
      const dir = await tempDir(t, 'zc-keys-');
      await writeFile(join(dir, 'bad.pub'), text);
      const result = await keysCli(t, 'show', join(dir, 'bad.pub'));
      assert.equal(result.code, 2);
      assert.equal(result.stderr.length, 1, result.stderr.join('\n'));
      assert.match(result.stderr[0]!, /^zerocam-keys: .*bad\.pub/);
    });
  }

  test("the public key derived from a secret key is libzmq's own", () => {
    for (let i = 0; i < 20; i++) {
      const { publicKey, secretKey } = zmq.curveKeyPair();
      assert.equal(publicKeyOf(secretKey), publicKey);
    }
  });

  test('a .key file whose secret key is not its public key\'s is refused, by show and by a program given it, with one line and exit code 2', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    assert.equal((await keysCli(t, 'generate', join(dir, 'a'))).code, 0);
    assert.equal((await keysCli(t, 'generate', join(dir, 'b'))).code, 0);
    // a's public key with b's secret key: a file pieced together from two pairs.
    const a = await readFile(join(dir, 'a.key'), 'utf8');
    const secretOfB = readKeyFile(join(dir, 'b.key')).secretKey!;
    const mixed = join(dir, 'mixed.key');
    await writeFile(mixed, a.replace(/secret-key = "[^"]*"/, `secret-key = "${secretOfB}"`), { mode: 0o600 });
    assert.throws(() => readKeyFile(mixed), { name: 'KeyFileError', message: /does not belong to its secret key/ });

    const shown = await keysCli(t, 'show', mixed);
    assert.equal(shown.code, 2);
    assert.deepEqual(shown.stdout, []);
    assert.equal(shown.stderr.length, 1, shown.stderr.join('\n'));
    assert.match(shown.stderr[0]!, /^zerocam-keys: .*mixed\.key: its public key does not belong to its secret key/);

    const sender = new CliProcess('sender', ['--curve-key', mixed, '--no-stats']);
    t.after(() => sender.stop());
    const { code } = await sender.exited;
    assert.equal(code, 2, sender.stderr.join('\n'));
    assert.equal(sender.stderr.length, 1, sender.stderr.join('\n'));
    assert.match(sender.stderr[0]!, /^zerocam-sender: .*--curve-key.*mixed\.key: its public key does not belong to its secret key/);
  });

  test('a bare key on one line is a valid .pub file (as pasted from show)', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    const { publicKey } = zmq.curveKeyPair();
    await writeFile(join(dir, 'pasted.pub'), `# from the camera's admin\n${publicKey}\n`);
    assert.deepEqual(readKeyFile(join(dir, 'pasted.pub')), { publicKey });
  });
});

describe('allowlists', () => {
  test('a directory contributes every .pub file in it and ignores other files', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    const a = zmq.curveKeyPair().publicKey;
    const b = zmq.curveKeyPair().publicKey;
    await writeFile(join(dir, 'a.pub'), `${a}\n`);
    await writeFile(join(dir, 'b.pub'), `curve\n    public-key = "${b}"\n`);
    await writeFile(join(dir, 'README'), 'not a key\n');
    assert.deepEqual([...readAllowlist(dir)].sort(), [a, b].sort());
  });

  test('a file may list one key per line, with comments', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    const keys = [zmq.curveKeyPair().publicKey, zmq.curveKeyPair().publicKey, zmq.curveKeyPair().publicKey];
    await writeFile(join(dir, 'viewers.txt'), `# the lab's viewers\n${keys.join('\n')}\n\n`);
    assert.deepEqual([...readAllowlist(join(dir, 'viewers.txt'))], keys);
  });

  test('an allowlist that admits no one, or holds a secret key, is refused', async (t) => {
    const dir = await tempDir(t, 'zc-keys-');
    await writeFile(join(dir, 'empty.pub'), '# nobody yet\n');
    assert.throws(() => readAllowlist(join(dir, 'empty.pub')), { name: 'KeyFileError', message: /holds no public keys/ });
    const pair = zmq.curveKeyPair();
    await writeFile(join(dir, 'oops.pub'), `curve\n    public-key = "${pair.publicKey}"\n    secret-key = "${pair.secretKey}"\n`);
    assert.throws(() => readAllowlist(dir), (error: unknown) => error instanceof KeyFileError && /takes public keys/.test(error.message));
  });
});
