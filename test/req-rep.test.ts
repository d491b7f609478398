import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { FrameRequester, type RequestOutcome } from '../sender/send/frame-requester';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { bindEndpoint, ipcEndpoint } from './helpers/endpoints';
import { structuredJpeg } from './helpers/media';
import { listSavedFiles, readIndex } from './helpers/recordings';
import { tempDir } from './helpers/temp-dir';

const SMALL = ['--width', '320', '--height', '240'];
const fields = { captureUs: 1_000_000, width: 32, height: 24, codec: 'jpeg' as const, quality: 80 };

function start(t: TestContext, name: 'sender' | 'receiver', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

describe('FrameRequester (REQ, Lazy Pirate)', () => {
  test('while a reply is pending, only the newest offered frame waits; older waiting ones are skipped', async (t) => {
    const rep = new zmq.Reply({ linger: 0 });
    t.after(() => rep.close());
    await rep.bind(bindEndpoint('ipc'));
    const requester = await FrameRequester.open({ connect: [rep.lastEndpoint!], topic: 'cam1', wire: 'zerocam' }, 7);
    t.after(() => requester.close());

    const outcomes: Array<Promise<RequestOutcome>> = [];
    for (let i = 0; i < 4; i++) outcomes.push(requester.offer(fields, structuredJpeg(32, 24, i)));
    const first = await rep.receive();
    await rep.send('OK');
    const second = await rep.receive();
    await rep.send('OK');
    assert.deepEqual(await Promise.all(outcomes), ['acknowledged', 'skipped', 'skipped', 'acknowledged']);
    // seq numbers the frames sent, so the receiver sees no gap for the skipped ones.
    assert.deepEqual([first[1]!.readUInt32LE(24), second[1]!.readUInt32LE(24)], [0, 1]);
    assert.equal(second[2]![30], 3, 'the frame sent second is the newest one offered');
  });

  test('no reply within the timeout: timed-out, the socket is reopened, and the next frame is acknowledged', async (t) => {
    const endpoint = bindEndpoint('ipc');
    const silent = new zmq.Reply({ linger: 0 });
    await silent.bind(endpoint);
    const timeouts: boolean[] = [];
    const requester = await FrameRequester.open({ connect: [endpoint], topic: 'cam1', wire: 'zerocam', replyTimeoutMs: 1000, onTimeout: (first) => timeouts.push(first) }, 7);
    t.after(() => requester.close());

    const lost = requester.offer(fields, structuredJpeg(32, 24));
    await silent.receive();
    silent.close();
    assert.equal(await lost, 'timed-out');

    const rep = new zmq.Reply({ linger: 0 });
    t.after(() => rep.close());
    await rep.bind(endpoint);
    const next = requester.offer(fields, structuredJpeg(32, 24));
    const [, header] = await rep.receive();
    await rep.send('OK');
    assert.equal(await next, 'acknowledged');
    assert.equal(header!.readUInt32LE(24), 1, 'the timed-out frame kept its seq: a receiver that missed it sees a gap');
    assert.equal(timeouts[0], true);
  });

  test('a reply other than OK is refused, and close() settles a frame waiting for its reply', async (t) => {
    const receiver = await JpegReceiver.open({ pattern: 'rep', attachment: { bind: bindEndpoint('ipc') }, maxFrameBytes: 1024 });
    t.after(() => receiver.close());
    const requester = await FrameRequester.open({ connect: [receiver.endpoint], topic: 'cam1', wire: 'zerocam' }, 7);
    t.after(() => requester.close());
    const iterator = receiver[Symbol.asyncIterator]();

    // Past the 1024-byte limit but under libzmq's cap (twice that), so it is rejected, not cut off.
    const oversized = requester.offer(fields, structuredJpeg(32, 24, 0, 1500));
    const rejected = await iterator.next();
    assert.equal(!rejected.done && rejected.value.kind, 'rejected');
    const good = requester.offer(fields, structuredJpeg(32, 24));
    const accepted = await iterator.next(); // answers the rejected message "ERR oversized" on the way
    assert.equal(await oversized, 'refused');
    assert.equal(!accepted.done && accepted.value.kind, 'frame');
    requester.close();
    assert.equal(await good, 'closed');
  });
});

describe('zerocam-sender --pattern req -> zerocam-receiver --pattern rep', () => {
  test('--frames N: the recorder holds seq 0..N-1 with no gaps, every one acknowledged and on disk', async (t) => {
    const dir = await tempDir(t, 'zc-reqrep-');
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--pattern', 'rep', '--bind', endpoint, '--out', dir, '--no-stats']);
    await receiver.ready();
    const senderStats = join(dir, 'sender.json');
    const sender = start(t, 'sender', ['--pattern', 'req', '--connect', endpoint, '--topic', 'cam1', ...SMALL, '--fps', '0', '--frames', '20', '--stats-json', senderStats, '--no-stats']);
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    const summary = JSON.parse(await readFile(senderStats, 'utf8')) as JsonRecord;
    assert.equal(summary.frames, 20, 'acknowledged frames');
    // The sender has exited: everything it was told is saved must be on disk already.
    const index = await readIndex(dir);
    assert.deepEqual(index.map((e) => e.seq), Array.from({ length: 20 }, (_, i) => i));
    assert.deepEqual(await listSavedFiles(dir), index.map((e) => e.file).sort());
  });

  test('a receiver that does not save answers every frame, the last one before --frames stops it included', async (t) => {
    const dir = await tempDir(t, 'zc-reqrep-');
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--pattern', 'rep', '--bind', endpoint, '--frames', '5', '--no-stats']);
    await receiver.ready();
    const senderStats = join(dir, 'sender.json');
    const sender = start(t, 'sender', ['--pattern', 'req', '--connect', endpoint, '--topic', 'cam1', ...SMALL, '--frames', '5', '--stats-json', senderStats, '--no-stats']);
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));
    const summary = JSON.parse(await readFile(senderStats, 'utf8')) as JsonRecord;
    assert.deepEqual([summary.frames, summary.timeouts], [5, 0]);
  });

  test('--pattern req without --connect is a usage error: one line, exit 2', async (t) => {
    const sender = start(t, 'sender', ['--pattern', 'req', '--bind', ipcEndpoint(), '--no-stats']);
    assert.equal((await sender.exited).code, 2);
    assert.deepEqual(sender.stderr, ['zerocam-sender: --pattern req needs --connect: the receiver or hub binds']);
  });

  test('one REP receiver serves several REQ senders', async (t) => {
    const dir = await tempDir(t, 'zc-reqrep-');
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--pattern', 'rep', '--bind', endpoint, '--out', dir, '--no-stats']);
    await receiver.ready();
    const senders = ['cam-a', 'cam-b'].map((topic) => start(t, 'sender', ['--pattern', 'req', '--connect', endpoint, '--topic', topic, ...SMALL, '--frames', '5', '--no-stats']));
    for (const sender of senders) assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    const index = await readIndex(dir);
    for (const topic of ['cam-a', 'cam-b']) assert.deepEqual(index.filter((e) => e.topic === topic).map((e) => e.seq), [0, 1, 2, 3, 4]);
  });

  test('the receiver is killed mid-run and restarted: the sender survives, resumes, and every acknowledged frame is on disk', async (t) => {
    const dir = await tempDir(t, 'zc-reqrep-');
    const endpoint = ipcEndpoint();
    const receiverArgs = ['--pattern', 'rep', '--bind', endpoint, '--out', dir];
    const first = start(t, 'receiver', receiverArgs);
    await first.ready();
    const senderStats = join(dir, 'sender.json');
    const sender = start(t, 'sender', ['--pattern', 'req', '--connect', endpoint, '--topic', 'cam1', ...SMALL, '--fps', '30', '--reply-timeout', '300', '--stats-json', senderStats]);
    await first.waitForJson('stdout', (r) => Number(r.saved) >= 5);
    first.kill('SIGKILL');
    await first.exited;
    const outage = await sender.waitForJson('stdout', (r) => Number(r.timeouts) >= 1);

    const second = start(t, 'receiver', receiverArgs);
    await second.waitForJson('stdout', (r) => Number(r.saved) >= 5);
    await sender.waitForJson('stdout', (r) => Number(r.frames) > Number(outage.frames));
    sender.kill('SIGTERM');
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    second.kill('SIGTERM');
    assert.equal((await second.exited).code, 0, second.stderr.join('\n'));

    const summary = JSON.parse(await readFile(senderStats, 'utf8')) as JsonRecord;
    const index = await readIndex(dir);
    const seqs = index.map((e) => e.seq);
    assert.ok(index.length >= Number(summary.frames), `${index.length} saved, ${String(summary.frames)} acknowledged`);
    assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b), 'one session, each seq saved once, in order');
    // A receiver killed between a rename and its index line may leave one unindexed file, never the reverse.
    const files = new Set(await listSavedFiles(dir));
    for (const entry of index) assert.ok(files.has(entry.file), entry.file);
  });
});
