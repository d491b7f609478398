import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { encodeFrame } from '../common/wire/protocol';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { freeTcpPort, ipcEndpoint } from './helpers/endpoints';
import { framesOf, startHub, streamsOf, type Hub } from './helpers/hub';
import { readIndex } from './helpers/recordings';
import { structuredJpeg } from './helpers/media';

const SMALL = ['--width', '320', '--height', '240'];
/** A 32x24 JPEG-shaped frame: a real SOF, as receivers check, and made-up scan data. */
const jpeg = (fill: number): Buffer => structuredJpeg(32, 24, fill, 200);

function start(t: TestContext, name: 'sender' | 'receiver' | 'hub', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

/** A hub on ephemeral loopback ports, unless `args` names its endpoints. */
function startTestHub(t: TestContext, args: string[] = []): Promise<Hub> {
  return startHub(t, args.includes('--senders') ? args : ['--senders', 'tcp://127.0.0.1:*', '--receivers', 'tcp://127.0.0.1:*', ...args]);
}

async function startSender(t: TestContext, hub: Hub, topic: string, extra: string[] = []): Promise<CliProcess> {
  const sender = start(t, 'sender', ['--connect', hub.senders, '--topic', topic, ...SMALL, '--fps', '30', '--no-stats', ...extra]);
  await sender.ready();
  return sender;
}

function startReceiver(t: TestContext, hub: Hub, extra: string[] = []): CliProcess {
  return start(t, 'receiver', ['--connect', hub.receivers, ...extra]);
}


/** The next stats record (printed after this call) that satisfies `match`. */
function nextStats(child: CliProcess, match: (record: JsonRecord) => boolean): Promise<JsonRecord> {
  const seen = child.stdout.length;
  return child.waitForJson('stdout', (record) => child.stdout.length > seen && match(record));
}

const everyTopic = (topics: string[], atLeast: number) => (record: JsonRecord) => topics.every((topic) => framesOf(record, topic) >= atLeast);

describe('zerocam-hub (pubsub)', () => {
  test('three senders -> hub -> two receivers over tcp: each gets all three streams; a topic filter gets only its stream', async (t) => {
    const hub = await startTestHub(t);
    const topics = ['cam1', 'cam2', 'cam3'];
    const receivers = [startReceiver(t, hub), startReceiver(t, hub)];
    const filtered = startReceiver(t, hub, ['--topic', 'cam2']);
    for (const topic of topics) await startSender(t, hub, topic);

    for (const receiver of receivers) {
      const record = await receiver.waitForJson('stdout', everyTopic(topics, 5));
      assert.deepEqual(Object.keys(streamsOf(record)).sort(), topics);
      assert.equal(record.rejected, 0);
      // A receiver whose subscription reached the hub after the first frames makes the hub repeat its
      // cached frames to everyone (by design): those are counted as duplicates, never as frames.
      assert.equal(Number(record.frames), Object.values(streamsOf(record)).reduce((sum, s) => sum + Number(s.frames), 0));
    }
    const record = await filtered.waitForJson('stdout', everyTopic(['cam2'], 5));
    assert.deepEqual(Object.keys(streamsOf(record)), ['cam2']);
  });

  test('subscriptions flow upstream: a stream nobody subscribes to never reaches the hub', async (t) => {
    const hub = await startTestHub(t);
    const receiver = startReceiver(t, hub, ['--topic', 'wanted']);
    await startSender(t, hub, 'wanted');
    await startSender(t, hub, 'unwanted');
    await receiver.waitForJson('stdout', everyTopic(['wanted'], 10));
    // Both senders have been running since before those 10 frames; the hub's next report shows what it received.
    const hubRecord = await nextStats(hub.process, everyTopic(['wanted'], 10));
    assert.deepEqual(Object.keys(streamsOf(hubRecord)), ['wanted']);
    assert.equal(hubRecord.receivers, 1);
  });

  test('a late joiner gets the cached frame of a camera that has gone quiet at once; a subscribed receiver discards the repeat', async (t) => {
    const hub = await startTestHub(t);
    const early = startReceiver(t, hub);
    // A camera that sends, then stays quiet (like one that sends every 10 s): a test-side PUB, so the test knows every seq.
    const camera = new zmq.Publisher({ linger: 0 });
    t.after(() => camera.close());
    camera.connect(hub.senders);
    const session = Date.now() * 1000;
    let seq = 0;
    const send = (): Promise<void> =>
      camera.send(encodeFrame('quiet', { session, seq: seq, captureUs: session + seq, sendUs: session + seq, width: 32, height: 24, codec: 'jpeg', quality: 80 }, jpeg(seq)));
    // PUB drops what it sends before the subscription arrives, so it sends until the early receiver has a frame.
    const pacer = setInterval(() => void send().then(() => seq++), 50);
    t.after(() => clearInterval(pacer));
    await early.waitForJson('stdout', everyTopic(['quiet'], 1));
    clearInterval(pacer);
    const lastSeq = seq - 1;
    const beforeJoin = await nextStats(early, () => true);

    const dir = await mkdtemp(join(tmpdir(), 'zc-hub-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const late = startReceiver(t, hub, ['--out', dir, '--no-fsync']);
    await late.waitForJson('stdout', (r) => Number(r.saved) >= 1);
    const [entry] = await readIndex(dir);
    assert.equal(entry?.topic, 'quiet');
    assert.equal(entry.seq, lastSeq, 'the newest frame the camera sent, from the cache');
    assert.equal(entry.session, session);

    const after = await early.waitForJson('stdout', (r) => Number(streamsOf(r).quiet?.duplicates) >= 1);
    assert.equal(framesOf(after, 'quiet'), framesOf(beforeJoin, 'quiet'), 'the repeat is not a new frame');
    assert.equal(streamsOf(after).quiet?.dropped, streamsOf(beforeJoin).quiet?.dropped, 'nor a gap');
  });

  test('a stalled receiver (SIGSTOP) does not stall another', async (t) => {
    const hub = await startTestHub(t);
    const stalled = startReceiver(t, hub);
    const other = startReceiver(t, hub);
    await startSender(t, hub, 'cam1', ['--width', '640', '--height', '480']);
    await stalled.waitForJson('stdout', everyTopic(['cam1'], 5));
    const before = await other.waitForJson('stdout', everyTopic(['cam1'], 5));
    stalled.kill('SIGSTOP');
    t.after(() => stalled.kill('SIGCONT'));
    await other.waitForJson('stdout', everyTopic(['cam1'], framesOf(before, 'cam1') + 60));
  });

  test('the hub is killed and restarted on the same addresses: receivers and senders find it again by themselves', async (t) => {
    const args = ['--senders', `tcp://127.0.0.1:${await freeTcpPort()}`, '--receivers', `tcp://127.0.0.1:${await freeTcpPort()}`];
    const first = await startTestHub(t, args);
    const receivers = [startReceiver(t, first), startReceiver(t, first)];
    await startSender(t, first, 'cam1');
    const counts: number[] = [];
    for (const receiver of receivers) counts.push(framesOf(await receiver.waitForJson('stdout', everyTopic(['cam1'], 5)), 'cam1'));

    first.process.kill('SIGKILL');
    await first.process.exited;
    const marks = receivers.map((r) => r.stdout.length);
    await startTestHub(t, args);
    for (const [i, receiver] of receivers.entries()) {
      await receiver.waitForJson('stdout', (r) => receiver.stdout.length > marks[i]! && framesOf(r, 'cam1') >= counts[i]! + 10);
    }
  });

  test('malformed messages are counted by reason and not forwarded; the hub goes on', async (t) => {
    const hub = await startTestHub(t);
    const receiver = startReceiver(t, hub);
    await startSender(t, hub, 'cam1');
    await receiver.waitForJson('stdout', everyTopic(['cam1'], 3));
    const rogue = new zmq.Publisher({ linger: 0 });
    t.after(() => rogue.close());
    rogue.connect(hub.senders);
    const flood = setInterval(() => void rogue.send([Buffer.from('cam1'), Buffer.from('not a header'), jpeg(1)]), 20);
    t.after(() => clearInterval(flood));
    const record = await hub.process.waitForJson('stdout', (r) => Number((r.rejectedByReason as JsonRecord | undefined)?.['header-size']) >= 3);
    clearInterval(flood);
    assert.ok(framesOf(record, 'cam1') > 0);
    const later = await nextStats(receiver, everyTopic(['cam1'], framesOf(record, 'cam1')));
    assert.equal(later.rejected, 0, 'nothing malformed was forwarded');
    assert.match(hub.process.stderr.join('\n'), /dropped a malformed message \(header-size\)/);
  });
});

describe('zerocam-hub --pattern pipeline', () => {
  test('two PUSH senders -> hub -> two PULL receivers: every frame arrives exactly once, spread over both', async (t) => {
    const hub = await startTestHub(t, ['--pattern', 'pipeline']);
    const dirs = [await mkdtemp(join(tmpdir(), 'zc-hub-a-')), await mkdtemp(join(tmpdir(), 'zc-hub-b-'))];
    t.after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
    const receivers = dirs.map((dir) => startReceiver(t, hub, ['--pattern', 'pull', '--out', dir, '--no-fsync']));
    await hub.process.waitForJson('stdout', (r) => r.receivers === 2);

    const statsFiles = ['w1', 'w2'].map((topic) => join(dirs[0]!, `${topic}-sender.json`));
    const senders = ['w1', 'w2'].map((topic, i) =>
      start(t, 'sender', ['--connect', hub.senders, '--pattern', 'push', '--topic', topic, ...SMALL, '--fps', '20', '--frames', '40', '--no-stats', '--stats-json', statsFiles[i]!]),
    );
    for (const sender of senders) assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    let sent = 0;
    for (const file of statsFiles) sent += Number((JSON.parse(await readFile(file, 'utf8')) as JsonRecord).frames);
    assert.ok(sent > 0);

    // Wait until the receivers' reports add up to every frame sent.
    const latest = receivers.map(() => 0);
    while (latest[0]! + latest[1]! < sent) {
      await Promise.race(
        receivers.map((receiver, i) =>
          nextStats(receiver, () => true).then((record) => {
            latest[i] = Number(record.frames);
          }),
        ),
      );
    }
    assert.equal(latest[0]! + latest[1]!, sent, 'no frame went to both receivers');
    assert.ok(latest[0]! > 0 && latest[1]! > 0, `frames spread over both receivers: ${latest.join(' + ')}`);
    for (const receiver of receivers) receiver.kill('SIGTERM');
    for (const receiver of receivers) assert.equal((await receiver.exited).code, 0);

    const seen = new Set<string>();
    for (const dir of dirs) {
      for (const entry of await readIndex(dir)) {
        const key = `${entry.topic}/${entry.session}/${entry.seq}`;
        assert.ok(!seen.has(key), `${key} arrived twice`);
        seen.add(key);
      }
    }
  });
});

describe('zerocam-hub command line', () => {
  test('--help prints usage with examples and exits 0', async (t) => {
    const child = start(t, 'hub', ['--help']);
    assert.equal((await child.exited).code, 0);
    const help = child.stdout.join('\n');
    assert.match(help, /Examples:/);
    assert.match(help, /ZEROCAM_/);
    assert.match(help, /--http/);
  });

  for (const [what, args] of [
    ['an unknown pattern', ['--pattern', 'fanout']],
    ['an endpoint without a port', ['--senders', 'tcp://127.0.0.1']],
    ['an unknown transport', ['--receivers', 'udp://*:5555']],
    ['an HTTP port out of range', ['--http', '70000']],
  ] as const) {
    test(`${what}: one readable line and exit code 2`, async (t) => {
      const child = start(t, 'hub', ['--senders', ipcEndpoint(), '--receivers', ipcEndpoint(), ...args]);
      const { code } = await child.exited;
      const lines = child.stderr.filter(Boolean);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(lines[0]!, /^zerocam-hub: \S/);
      assert.equal(code, 2);
    });
  }

  test('an HTTP port already in use: one readable line and exit code 2', async (t) => {
    const holder = start(t, 'hub', ['--senders', ipcEndpoint(), '--receivers', ipcEndpoint(), '--http', '0']);
    const url = new URL(String((await holder.waitForJson('stderr', (r) => r.event === 'serving')).url));
    const child = start(t, 'hub', ['--senders', ipcEndpoint(), '--receivers', ipcEndpoint(), '--http', url.port]);
    const { code } = await child.exited;
    assert.match(child.stderr.join('\n'), /^zerocam-hub: cannot serve HTTP on 127\.0\.0\.1:\d+: address already in use$/);
    assert.equal(code, 2);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    test(`exits 0 on ${signal} and both ports can be bound again at once`, async (t) => {
      const ports = [await freeTcpPort(), await freeTcpPort()];
      const hub = await startTestHub(t, ['--senders', `tcp://127.0.0.1:${ports[0]}`, '--receivers', `tcp://127.0.0.1:${ports[1]}`, '--http', '0']);
      hub.process.kill(signal);
      assert.equal((await hub.process.exited).code, 0, hub.process.stderr.join('\n'));
      for (const port of ports) {
        const again = new zmq.Pull();
        t.after(() => again.close());
        await again.bind(`tcp://127.0.0.1:${port}`);
      }
    });
  }
});
