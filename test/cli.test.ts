import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import * as zmq from 'zeromq';
import { encodeFrame } from '../common/wire/protocol';
import { structuredJpeg } from './helpers/media';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { freeTcpPort, ipcEndpoint } from './helpers/endpoints';
import { listSavedFiles, readIndex } from './helpers/recordings';
import { tempDir } from './helpers/temp-dir';

const SMALL = ['--width', '320', '--height', '240'];

function start(t: TestContext, name: 'sender' | 'receiver', args: string[], env: NodeJS.ProcessEnv = {}): CliProcess {
  const child = new CliProcess(name, args, env);
  t.after(() => child.stop());
  return child;
}

const stream = (record: JsonRecord, topic: string): JsonRecord | undefined => (record.streams as Record<string, JsonRecord> | undefined)?.[topic];

describe('zerocam-sender -> zerocam-receiver', () => {
  for (const [senderPattern, receiverPattern] of [['pub', 'sub'], ['push', 'pull']] as const) {
    for (const transport of ['tcp', 'ipc'] as const) {
      test(`${senderPattern}/${receiverPattern} over ${transport}: every saved file is a complete JPEG that matches the index`, async (t) => {
        const dir = await tempDir(t, 'zc-cli-');
        const statsFile = join(dir, 'stats.json');
        const out = join(dir, 'frames');
        const bind = transport === 'tcp' ? 'tcp://127.0.0.1:*' : ipcEndpoint();
        const sender = start(t, 'sender', ['--bind', bind, '--pattern', senderPattern, '--topic', 'cam1', ...SMALL, '--fps', '60', '--no-stats']);
        const endpoint = await sender.ready();
        const receiver = start(t, 'receiver', ['--connect', endpoint, '--pattern', receiverPattern, '--out', out, '--frames', '20', '--stats-json', statsFile, '--no-stats']);
        assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
        sender.kill('SIGTERM');
        assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));

        const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
        assert.equal(summary.frames, 20);
        assert.equal(summary.rejected, 0);
        const index = await readIndex(out);
        assert.ok(index.length >= 1);
        assert.equal(index.length, summary.saved);
        assert.equal(Number(summary.saved) + Number(summary.skipped), 20, 'each received frame was saved or skipped for a newer one');
        assert.deepEqual(await listSavedFiles(out), index.map((e) => e.file).sort());
        for (const entry of index) {
          const file = join(out, entry.file);
          assert.equal((await stat(file)).size, entry.bytes);
          const meta = await sharp(file).metadata();
          assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 240]);
          assert.equal(entry.topic, 'cam1');
          assert.ok(entry.receiveUs >= entry.captureUs);
        }
        const seqs = index.map((e) => e.seq);
        assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'sequence numbers increase');
      });
    }
  }

  test('--every N saves one frame in N (or skips it for a newer one)', async (t) => {
    const dir = await tempDir(t, 'zc-cli-');
    const statsFile = join(dir, 'stats.json');
    const sender = start(t, 'sender', ['--bind', ipcEndpoint(), ...SMALL, '--fps', '60', '--no-stats']);
    const receiver = start(t, 'receiver', ['--connect', await sender.ready(), '--out', dir, '--every', '5', '--frames', '20', '--stats-json', statsFile, '--no-stats']);
    assert.equal((await receiver.exited).code, 0);
    const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
    assert.equal(Number(summary.saved) + Number(summary.skipped), 4);
    assert.equal((await readIndex(dir)).length, summary.saved);
  });

  test('a receiver that starts first, and a sender restarted mid-stream: the stream resumes by itself', async (t) => {
    const dir = await tempDir(t, 'zc-cli-');
    const endpoint = ipcEndpoint();
    const statsFile = join(dir, 'stats.json');
    // Receiver first; piped, it prints a JSON stats record about once a second.
    const receiver = start(t, 'receiver', ['--connect', endpoint, '--out', dir, '--stats-json', statsFile]);
    await receiver.ready();
    const senderArgs = ['--bind', endpoint, '--topic', 'cam1', ...SMALL, '--no-stats'];

    const first = start(t, 'sender', senderArgs);
    await receiver.waitForJson('stdout', (r) => Number(stream(r, 'cam1')?.frames) > 0);
    first.kill('SIGTERM');
    assert.equal((await first.exited).code, 0);

    const second = start(t, 'sender', senderArgs);
    await second.ready();
    const resumed = await receiver.waitForJson('stdout', (r) => stream(r, 'cam1')?.sessions === 2 && Number(stream(r, 'cam1')?.saved) > 0);
    assert.ok(resumed);
    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0);
    second.kill('SIGTERM');

    const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
    assert.equal(stream(summary, 'cam1')?.sessions, 2);
    const sessions = new Set((await readIndex(dir)).map((e) => e.session));
    assert.equal(sessions.size, 2, 'frames from both sender runs were saved');
  });

  test('malformed and oversized messages beside a real sender: the receiver counts them and keeps saving', async (t) => {
    const dir = await tempDir(t, 'zc-cli-');
    const statsFile = join(dir, 'stats.json');
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--pattern', 'pull', '--bind', endpoint, '--out', dir, '--max-frame-bytes', '65536', '--stats-json', statsFile]);
    await receiver.ready();
    const sender = start(t, 'sender', ['--pattern', 'push', '--connect', endpoint, '--topic', 'cam1', ...SMALL, '--no-stats']);
    await sender.ready();

    const rogue = new zmq.Push();
    t.after(() => rogue.close());
    rogue.connect(endpoint);
    const header = { session: 5, seq: 0, captureUs: 1, sendUs: 1, width: 8, height: 8, codec: 'jpeg' as const, quality: 80 };
    await rogue.send([Buffer.from('cam1'), Buffer.from('just two parts')]);
    await rogue.send(encodeFrame('cam1', header, Buffer.from('this is not a JPEG')));
    await rogue.send(encodeFrame('cam1', header, structuredJpeg(8, 8, 0, 100_000)));

    const rejected = await receiver.waitForJson('stdout', (r) => Number(r.rejected) >= 3);
    await receiver.waitForJson('stdout', (r) => Number(r.saved) > Number(rejected.saved));
    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0);
    const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
    assert.deepEqual(summary.rejectedByReason, { 'part-count': 1, 'jpeg-markers': 1, oversized: 1 });
    assert.ok(receiver.stderr.some((line) => line.includes('malformed message')), 'the first reject of each kind is logged');
    const index = await readIndex(dir);
    assert.equal(index.length, summary.saved);
    assert.ok(index.every((e) => e.session !== 5), 'no rogue frame was saved');
  });

  test('zerocam-sender --frames N stops by itself after N frames and reports them in --stats-json', async (t) => {
    const dir = await tempDir(t, 'zc-cli-');
    const statsFile = join(dir, 'sender.json');
    const sender = start(t, 'sender', ['--bind', ipcEndpoint(), ...SMALL, '--fps', '0', '--frames', '5', '--stats-json', statsFile, '--no-stats']);
    // A sender captures nothing until someone subscribes.
    start(t, 'receiver', ['--connect', await sender.ready(), '--no-stats']);
    assert.equal((await sender.exited).code, 0);
    const summary = JSON.parse(await readFile(statsFile, 'utf8')) as JsonRecord;
    assert.equal(summary.frames, 5);
    assert.ok(Number((summary.encodeMs as JsonRecord).mean) > 0);
  });
});

describe('shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    for (const name of ['sender', 'receiver'] as const) {
      test(`zerocam-${name} exits 0 on ${signal} and its port can be bound again at once`, async (t) => {
        const port = await freeTcpPort();
        const args = name === 'sender' ? ['--bind', `tcp://127.0.0.1:${port}`, '--no-stats'] : ['--bind', `tcp://127.0.0.1:${port}`, '--no-stats'];
        const first = start(t, name, args);
        await first.ready();
        first.kill(signal);
        // 0, not 1: the forced exit after the 1 s shutdown deadline exits 1.
        assert.equal((await first.exited).code, 0, first.stderr.join('\n'));
        const again = new zmq.Publisher();
        t.after(() => again.close());
        await again.bind(`tcp://127.0.0.1:${port}`);
      });
    }
  }
});

describe('usage errors', () => {
  const cases: Array<[string, 'sender' | 'receiver', string[], NodeJS.ProcessEnv?]> = [
    ['an unknown flag', 'sender', ['--bogus']],
    ['an endpoint without a port', 'sender', ['--bind', 'tcp://127.0.0.1']],
    ['an unknown transport', 'sender', ['--connect', 'udp://cam:5555']],
    ['quality 0', 'sender', ['--quality', '0']],
    ['a receiver pattern on the sender', 'sender', ['--pattern', 'sub']],
    ['an unknown source', 'sender', ['--source', 'webcam']],
    ['a negative fps', 'sender', ['--fps', '-5']],
    ['a topic with a space', 'sender', ['--topic', 'my cam']],
    ['both --bind and --connect', 'sender', ['--bind', 'tcp://*:5555', '--connect', 'tcp://a:1']],
    ['a bad ZEROCAM_QUALITY', 'sender', [], { ZEROCAM_QUALITY: 'high' }],
    ['a camera that is not there', 'sender', ['--source', 'camera:9']],
    ['a device OpenCV cannot open', 'sender', ['--source', '/dev/null']],
    ['a video file that is not there', 'sender', ['--source', 'file:/nonexistent/clip.mp4']],
    ['a wildcard host to connect to', 'receiver', ['--connect', 'tcp://*:5555']],
    ['--every 0', 'receiver', ['--every', '0']],
    ['an output directory that cannot be created', 'receiver', ['--out', '/proc/zerocam/frames']],
    ['a port already bound', 'receiver', ['--bind', 'tcp://127.0.0.1:PORT']],
  ];
  for (const [what, name, args, env] of cases) {
    test(`zerocam-${name} with ${what}: one readable line and exit code 2`, async (t) => {
      let finalArgs = args;
      if (args.includes('tcp://127.0.0.1:PORT')) {
        const holder = new zmq.Pull();
        t.after(() => holder.close());
        await holder.bind('tcp://127.0.0.1:*');
        finalArgs = args.map((a) => (a === 'tcp://127.0.0.1:PORT' ? holder.lastEndpoint! : a));
      }
      const child = start(t, name, finalArgs, env);
      const { code } = await child.exited;
      const lines = child.stderr.filter(Boolean);
      assert.equal(lines.length, 1, `stderr:\n${lines.join('\n')}`);
      assert.match(lines[0]!, new RegExp(`^zerocam-${name}: \\S`));
      assert.doesNotMatch(lines[0]!, /\n|\s+at \S+ \(/);
      assert.equal(code, 2, lines[0]);
    });
  }

  // libzmq takes these and redials them for ever in silence; every program that connects refuses them at start.
  const connecting: Array<[string, 'sender' | 'receiver' | 'viewer' | 'hub', string, string[]]> = [
    ['zerocam-sender', 'sender', '--connect', []],
    ['zerocam-receiver', 'receiver', '--connect', []],
    ['zerocam-viewer', 'viewer', '--connect', []],
    ['zerocam-viewer --web', 'viewer', '--connect', ['--web', '--port', '0']],
    ['zerocam-hub', 'hub', '--senders-connect', ['--receivers', ipcEndpoint()]],
  ];
  for (const [what, name, flag, extra] of connecting) {
    for (const [endpoint, why] of [
      ['tcp://nosuchhost.invalid:5555', /nosuchhost\.invalid does not resolve/],
      ['ipc:///missing/dir/sock', /the directory \/missing\/dir does not exist/],
    ] as const) {
      test(`${what} ${flag} ${endpoint}: one readable line naming it, and exit code 2`, async (t) => {
        const child = new CliProcess(name, [...extra, flag, `tcp://127.0.0.1:5555,${endpoint}`]);
        t.after(() => child.stop());
        const { code } = await child.exited;
        const lines = child.stderr.filter(Boolean);
        assert.equal(lines.length, 1, `stderr:\n${lines.join('\n')}`);
        assert.ok(lines[0]!.startsWith(`zerocam-${name}: cannot connect to ${endpoint}: `), lines[0]);
        assert.match(lines[0]!, why);
        assert.doesNotMatch(lines[0]!, /\s+at \S+ \(/);
        assert.equal(code, 2, lines[0]);
        assert.deepEqual(child.stdout, [], 'nothing started');
      });
    }
  }

  test('an unopenable camera names the camera and what went wrong', async (t) => {
    const child = start(t, 'sender', ['--source', 'camera:9']);
    await child.exited;
    assert.match(child.stderr.join('\n'), /^zerocam-sender: cannot open camera 9: /);
  });

  test('--help prints usage with examples and exits 0', async (t) => {
    for (const name of ['sender', 'receiver'] as const) {
      const child = start(t, name, ['--help']);
      assert.equal((await child.exited).code, 0);
      const help = child.stdout.join('\n');
      assert.match(help, /Examples:/);
      assert.match(help, /ZEROCAM_/);
    }
  });

  test('--help names each option\'s default once, in every program', async (t) => {
    for (const name of ['sender', 'receiver', 'hub', 'viewer'] as const) {
      const child = new CliProcess(name, ['--help']);
      t.after(() => child.stop());
      assert.equal((await child.exited).code, 0);
      // One entry per option: its first line starts "  -", wrapped lines are indented further.
      const start = child.stdout.indexOf('Options:') + 1;
      const options = child.stdout.slice(start, child.stdout.indexOf('', start));
      const entries = options.reduce<string[]>((all, line) => (/^ {2}-/.test(line) ? [...all, line] : [...all.slice(0, -1), `${all.at(-1)} ${line.trim()}`]), []);
      assert.ok(entries.some((entry) => entry.startsWith('  --socket-buffer') && /\(default: \d+/.test(entry)), `zerocam-${name} --socket-buffer names its default`);
      for (const entry of entries) assert.ok((entry.match(/default:/g) ?? []).length <= 1, `zerocam-${name}: ${entry}`);
    }
  });

  test('--help into a pipe that was closed (`| head`) exits 0 without a stack trace', async () => {
    for (const name of ['sender', 'receiver', 'hub'] as const) {
      const child = spawn(process.execPath, [join(__dirname, '..', name, 'cli.js'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      // Closed before the program has loaded, so its first write meets a pipe with no reader (EPIPE).
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(stderr, '', `zerocam-${name}`);
      assert.equal(code, 0, `zerocam-${name}`);
    }
  });
});

describe('npm run demo', () => {
  test('runs a test-pattern sender and a saving receiver, and stops both on Ctrl-C', async (t) => {
    const dir = await tempDir(t, 'zc-cli-');
    const demo = spawn(process.execPath, [join(__dirname, '..', 'scripts', 'demo.js')], {
      env: { ...process.env, ZEROCAM_DEMO_ENDPOINT: ipcEndpoint(), ZEROCAM_DEMO_OUT: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => demo.kill('SIGKILL'));
    const exited = new Promise<number | null>((resolve) => demo.on('exit', resolve));
    await new Promise<void>((resolve) => {
      let text = '';
      demo.stdout.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (/"saved":[1-9]/.test(text)) resolve();
      });
    });
    demo.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.ok((await readIndex(dir)).length > 0);
  });
});
