import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { parseIndex, type IndexEntry } from '../common/wire/recording-index';
import { decodeFrame, encodeFrame, type Frame, type FrameHeader } from '../common/wire/protocol';
import { FrameStore } from '../receiver/frame-store';
import { SaveQueue } from '../receiver/record/save-queue';
import { RecordingSource } from '../sender/sources/recording-source';
import { CliProcess, type JsonRecord } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { decodedFrameCount, distinctJpegs, md5, packetMd5s, packetPtsUs, probeFormat } from './helpers/segments';
import { tempDir } from './helpers/temp-dir';

const BASE_US = 1_796_000_000_000_000;
const SESSION = 1_795_000_000_000_000;

function start(t: TestContext, name: 'sender' | 'receiver', args: string[]): CliProcess {
  const child = new CliProcess(name, args);
  t.after(() => child.stop());
  return child;
}

async function index(dir: string): Promise<IndexEntry[]> {
  const path = join(dir, 'index.jsonl');
  return parseIndex(await readFile(path, 'utf8'), path).entries;
}

/** Irregular capture times: camera jitter, a skipped frame (a 100 ms gap) every 7th, VFR. */
function captureTimes(count: number): number[] {
  const times: number[] = [];
  let t = BASE_US;
  for (let i = 0; i < count; i++) {
    times.push(t);
    t += i % 7 === 6 ? 100_017 : 33_333 + ((i * 977) % 900);
  }
  return times;
}

const frameOf = (topic: string, seq: number, captureUs: number, jpeg: Buffer, width = 64, height = 48): Frame => ({
  topic,
  header: { session: SESSION, seq, captureUs, sendUs: captureUs + 500, width, height, codec: 'jpeg', quality: 80 },
  jpeg,
});

/** Sends frames as a REQ sender would and waits for each OK: each OK means saved. */
async function sendAcknowledged(endpoint: string, frames: readonly Frame[]): Promise<void> {
  const req = new zmq.Request({ linger: 0, receiveTimeout: 10_000 });
  req.connect(endpoint);
  try {
    for (const frame of frames) {
      await req.send(encodeFrame(frame.topic, frame.header, frame.jpeg));
      const [reply] = await req.receive();
      assert.equal(reply?.toString(), 'OK');
    }
  } finally {
    req.close();
  }
}

describe('recorder --format segments', () => {
  test('segments hold the received JPEGs byte for byte, at their capture times (ffprobe, ffmpeg)', async (t) => {
    const dir = await tempDir(t, 'zc-seg-');
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--pattern', 'rep', '--bind', endpoint, '--out', dir, '--format', 'segments', '--segment-seconds', '1', '--no-stats']);
    await receiver.ready();
    const jpegs = await distinctJpegs(9);
    const times = captureTimes(60);
    const frames = times.map((time, seq) => frameOf('cam1', seq, time, jpegs[seq % jpegs.length]!));
    await sendAcknowledged(endpoint, frames);
    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0, receiver.stderr.join('\n'));

    const entries = await index(dir);
    assert.equal(entries.length, frames.length, 'one index line per frame');
    const files = [...new Set(entries.map((e) => e.file))];
    assert.ok(files.length >= 2, `--segment-seconds 1 over ${(times.at(-1)! - BASE_US) / 1e6} s makes several segments, got ${files.join(', ')}`);
    for (const file of files) {
      assert.match(file, /^cam1\/\d+-\d{10}\.mkv$/);
      const inFile = entries.filter((e) => e.file === file);
      const startUs = inFile[0]!.captureUs;
      const data = await readFile(join(dir, file));
      inFile.forEach((e, i) => {
        assert.equal(e.frame, i, 'positions count from 0 in each segment');
        assert.equal(e.ptsUs, e.captureUs - startUs);
        assert.deepEqual(data.subarray(e.offset, e.offset! + e.bytes), frames[e.seq]!.jpeg, 'the index points at the JPEG');
      });
      assert.deepEqual(await packetMd5s(join(dir, file)), inFile.map((e) => md5(frames[e.seq]!.jpeg)), `${file}: ffmpeg reads back the very JPEGs`);
      const pts = await packetPtsUs(join(dir, file));
      assert.equal(pts.length, inFile.length);
      pts.forEach((p, i) => assert.ok(Math.abs(p - (inFile[i]!.captureUs - startUs)) <= 1000, `${file} packet ${i}: pts ${p} µs vs capture ${inFile[i]!.captureUs - startUs} µs`));
      const format = await probeFormat(join(dir, file));
      assert.deepEqual([format.codec, format.width, format.height], ['mjpeg', 64, 48]);
      assert.ok(format.durationS > (inFile.at(-1)!.captureUs - startUs) / 1e6, 'a finished segment has its duration');
    }
  });

  test('after kill -9, the open segment plays up to its last indexed frame, and the index names only frames in it', async (t) => {
    const dir = await tempDir(t, 'zc-kill-');
    const endpoint = ipcEndpoint();
    // A long commit window, so the kill lands among frames written but not yet committed.
    const receiver = start(t, 'receiver', ['--pattern', 'pull', '--bind', endpoint, '--out', dir, '--format', 'segments', '--fsync-interval', '300']);
    await receiver.ready();
    const jpegs = await distinctJpegs(13);
    const push = new zmq.Push({ linger: 0, sendHighWaterMark: 4 });
    t.after(() => push.close());
    push.connect(endpoint);
    let sending = true;
    const sent = new Map<number, Buffer>();
    const pushing = (async () => {
      for (let seq = 0; sending; seq++) {
        const jpeg = jpegs[seq % jpegs.length]!;
        sent.set(seq, jpeg);
        await push.send(encodeFrame('cam1', { session: SESSION, seq, captureUs: BASE_US + seq * 5_000, sendUs: BASE_US, width: 64, height: 48, codec: 'jpeg', quality: 80 }, jpeg));
      }
    })().catch(() => undefined);
    await receiver.waitForJson('stdout', (r: JsonRecord) => typeof r.saved === 'number' && r.saved >= 20);
    receiver.kill('SIGKILL');
    await receiver.exited;
    sending = false;
    push.close();
    await pushing;

    const entries = await index(dir);
    assert.ok(entries.length >= 20);
    const file = join(dir, entries.at(-1)!.file);
    const data = await readFile(file);
    for (const e of entries) {
      const segment = join(dir, e.file) === file ? data : await readFile(join(dir, e.file));
      assert.deepEqual(segment.subarray(e.offset, e.offset! + e.bytes), sent.get(e.seq), `indexed seq ${e.seq} is in its segment ${e.file}`);
    }
    t.diagnostic(`segments: ${[...new Set(entries.map((e) => e.file))].join(', ')}`);
    const indexed = entries.filter((e) => join(dir, e.file) === file);
    const packets = await packetMd5s(file);
    assert.ok(packets.length >= indexed.length, `ffmpeg reads ${packets.length} frames, ${indexed.length} indexed`);
    assert.deepEqual(packets.slice(0, indexed.length), indexed.map((e) => md5(sent.get(e.seq)!)), 'it holds every indexed frame, in order');
    assert.ok((await decodedFrameCount(file)) >= indexed.length, 'ffmpeg decodes (plays) every indexed frame');
    const last = indexed.at(-1)!;
    t.diagnostic(`kill -9 left ${data.length - (last.offset! + last.bytes)} bytes (${packets.length - indexed.length} whole frames) after the last indexed frame`);
    // The recording reads back for replay, every file checked.
    const source = await RecordingSource.open(dir, { topics: [] });
    assert.equal(source.frames.length, entries.length);
    await source.close();
  });
});

describe('group commit and the save queue', () => {
  test('one commit fsyncs each open segment once, and the index once', async (t) => {
    const dir = await tempDir(t, 'zc-commit-');
    const jpegs = await distinctJpegs(3);
    for (const format of ['segments', 'jpeg'] as const) {
      const store = await FrameStore.open({ dir: join(dir, format), format, fsync: true });
      for (let seq = 0; seq < 10; seq++) assert.equal(await store.write(frameOf(seq % 2 ? 'a' : 'b', seq, BASE_US + seq * 33_000, jpegs[seq % 3]!), BASE_US), true);
      assert.equal((await index(join(dir, format))).length, 0, 'nothing is indexed before its commit');
      assert.equal((await store.commit()).length, 10);
      // segments: 2 streams' files + the index; jpeg: each file must be fsynced itself (in parallel) + the index.
      assert.equal(store.fsyncs, format === 'segments' ? 3 : 11);
      await store.close();
      assert.equal((await index(join(dir, format))).length, 10);
    }
  });

  test('SaveQueue: bounded, the oldest waiting frame makes room for the newest', async () => {
    const queue = new SaveQueue<number>(3);
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => queue.put(n)), [undefined, undefined, undefined, 1, 2]);
    assert.deepEqual([await queue.take(), await queue.take(), await queue.take(), await queue.take(0)], [3, 4, 5, 'timeout']);
    const waiting = queue.take();
    queue.put(6);
    assert.equal(await waiting, 6);
    queue.put(7);
    queue.close();
    assert.deepEqual([await queue.take(), await queue.take()], [7, undefined]);
  });
});

describe('retention: --max-bytes and --max-age', () => {
  const jpegOf = (n: number, bytes: number): Buffer => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(bytes - 5, n), Buffer.from([0xff, 0xd9])]);

  test('--max-bytes removes the oldest whole JPEG files first and compacts the index', async (t) => {
    const dir = await tempDir(t, 'zc-ret-');
    const store = await FrameStore.open({ dir, fsync: false, maxBytes: 5_000, retentionCheckMs: 0 });
    for (let seq = 0; seq < 12; seq++) await store.save(frameOf('cam1', seq, BASE_US + seq, jpegOf(seq, 1000)), Date.now() * 1000);
    await store.close();
    const entries = await index(dir);
    assert.deepEqual(entries.map((e) => e.seq), [7, 8, 9, 10, 11]);
    assert.deepEqual((await readdir(join(dir, 'cam1'))).sort(), entries.map((e) => e.file.slice(5)).sort(), 'the index and the files agree');
  });

  test('--max-age removes files whose newest frame is too old, from earlier runs too', async (t) => {
    const dir = await tempDir(t, 'zc-age-');
    const nowUs = Date.now() * 1000;
    const first = await FrameStore.open({ dir, fsync: false });
    for (let seq = 0; seq < 4; seq++) await first.save(frameOf('cam1', seq, BASE_US + seq, jpegOf(seq, 100)), nowUs - 3_600_000_000);
    await first.close();
    const second = await FrameStore.open({ dir, fsync: false, maxAgeMs: 600_000, retentionCheckMs: 0 });
    await second.save(frameOf('cam1', 4, BASE_US + 4, jpegOf(4, 100)), nowUs);
    await second.close();
    assert.deepEqual((await index(dir)).map((e) => e.seq), [4]);
    assert.deepEqual(await readdir(join(dir, 'cam1')), ['1795000000000000-0000000004.jpg']);
  });

  test('segments: whole segments go, oldest first, never the one being written', async (t) => {
    const dir = await tempDir(t, 'zc-retseg-');
    const jpegs = await distinctJpegs(4);
    const store = await FrameStore.open({ dir, format: 'segments', segmentSeconds: 1, fsync: false, maxBytes: 2_000, retentionCheckMs: 0 });
    // 5 s at 10 fps: 5 segments of about 10 frames each, far over 2000 bytes.
    for (let seq = 0; seq < 50; seq++) await store.save(frameOf('cam1', seq, BASE_US + seq * 100_000, jpegs[seq % 4]!), Date.now() * 1000);
    const entries = await index(dir);
    const files = [...new Set(entries.map((e) => e.file))];
    assert.equal(files.length, 1, `only the open segment is left: ${files.join(', ')}`);
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: 10 }, (_, i) => 40 + i));
    assert.deepEqual(await readdir(join(dir, 'cam1')), [files[0]!.slice(5)]);
    await store.close();
  });
});

describe('replay: zerocam-sender --source recording:DIR', () => {
  async function record(t: TestContext, topics: readonly string[], count: number): Promise<{ dir: string; frames: Frame[] }> {
    const dir = await tempDir(t, 'zc-rec-');
    const jpegs = await distinctJpegs(11);
    const store = await FrameStore.open({ dir, format: 'segments', segmentSeconds: 1, fsync: false });
    const frames: Frame[] = [];
    const times = captureTimes(count);
    for (let i = 0; i < count; i++) {
      const frame = frameOf(topics[i % topics.length]!, Math.floor(i / topics.length), times[i]!, jpegs[i % jpegs.length]!);
      frames.push(frame);
      await store.write(frame, times[i]! + 2_000);
    }
    await store.commit();
    await store.close();
    return { dir, frames };
  }

  test('--speed max into acknowledged delivery loses nothing: every frame arrives once, byte-identical, with its capture time', async (t) => {
    const { dir, frames } = await record(t, ['cam1', 'cam2'], 80);
    const out = await tempDir(t, 'zc-replayed-');
    const endpoint = ipcEndpoint();
    const receiver = start(t, 'receiver', ['--pattern', 'rep', '--bind', endpoint, '--out', out, '--no-stats']);
    await receiver.ready();
    const sender = start(t, 'sender', ['--source', `recording:${dir}`, '--pattern', 'req', '--connect', endpoint, '--speed', 'max', '--no-stats']);
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    receiver.kill('SIGTERM');
    assert.equal((await receiver.exited).code, 0);
    const replayed = await index(out);
    assert.equal(replayed.length, frames.length);
    for (const topic of ['cam1', 'cam2']) {
      const original = frames.filter((f) => f.topic === topic);
      const got = replayed.filter((e) => e.topic === topic);
      assert.deepEqual(got.map((e) => e.seq), original.map((_, i) => i), 'a new session, seq from 0');
      assert.deepEqual(got.map((e) => e.captureUs), original.map((f) => f.header.captureUs), 'original capture times');
      for (let i = 0; i < got.length; i++) assert.deepEqual(await readFile(join(out, got[i]!.file)), original[i]!.jpeg);
      assert.ok(got[0]!.session > SESSION);
    }
  });

  test('--speed 2 keeps the gaps (halved), marks frames as a replay, and --topic/--from/--to select', async (t) => {
    const { dir, frames } = await record(t, ['cam1', 'cam2'], 40);
    const pull = new zmq.Pull({ linger: 0 });
    t.after(() => pull.close());
    const endpoint = ipcEndpoint();
    await pull.bind(endpoint);
    const cam2 = frames.filter((f) => f.topic === 'cam2');
    // From the 4th cam2 frame's time (an offset from the recording's first frame) to the 16th's.
    const fromMs = (cam2[3]!.header.captureUs - BASE_US) / 1000;
    const to = new Date(cam2[15]!.header.captureUs / 1000).toISOString();
    const sender = start(t, 'sender', ['--source', `recording:${dir}`, '--pattern', 'push', '--connect', endpoint, '--speed', '2', '--topic', 'cam2', '--from', `${fromMs}ms`, '--to', to, '--no-stats']);
    const got: FrameHeader[] = [];
    const expected = cam2.filter((f) => f.header.captureUs >= cam2[3]!.header.captureUs && f.header.captureUs < Math.floor(cam2[15]!.header.captureUs / 1000) * 1000);
    for (let i = 0; i < expected.length; i++) {
      const frame = decodeFrame(await pull.receive(), { maxFrameBytes: 1 << 20 });
      assert.equal(frame.topic, 'cam2');
      assert.deepEqual(frame.jpeg, expected[i]!.jpeg);
      got.push(frame.header);
    }
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));
    assert.deepEqual(got.map((h) => h.captureUs), expected.map((f) => f.header.captureUs));
    assert.ok(got.every((h) => h.replay === true), 'the replay flag is set');
    let worstMs = 0;
    for (let i = 1; i < got.length; i++) {
      const wantUs = (got[i]!.captureUs - got[0]!.captureUs) / 2;
      const sentUs = got[i]!.sendUs - got[0]!.sendUs;
      // The pacer never sends early (a lower bound, not a timing assertion); lateness is only reported.
      assert.ok(sentUs >= wantUs - 2_000, `frame ${i} sent ${sentUs} µs after the first, due at ${wantUs} µs`);
      worstMs = Math.max(worstMs, (sentUs - wantUs) / 1000);
    }
    t.diagnostic(`--speed 2: the latest frame went ${worstMs.toFixed(2)} ms after its time`);
  });

  test('the replay flag is header flags bit 0, and survives a decode and re-encode (as a hub forwards it)', () => {
    const header: FrameHeader = { session: 1, seq: 2, captureUs: 3, sendUs: 4, width: 64, height: 48, codec: 'jpeg', quality: 80 };
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x30, 0x00, 0x40, 0x01, 0x01, 0x11, 0x00, 0xff, 0xda, 0x00, 0x02, 0xff, 0xd9]);
    const live = encodeFrame('cam1', header, jpeg);
    const replayed = encodeFrame('cam1', { ...header, replay: true }, jpeg);
    assert.equal(live[1][7], 0);
    assert.equal(replayed[1][7], 1);
    assert.equal(decodeFrame(live, { maxFrameBytes: 1024 }).header.replay, undefined);
    const decoded = decodeFrame(replayed, { maxFrameBytes: 1024 });
    assert.equal(decoded.header.replay, true);
    assert.equal(encodeFrame(decoded.topic, decoded.header, decoded.jpeg)[1][7], 1);
  });

  test('SIGTERM stops a push replay that waits for a receiver, cleanly (exit 0, within the 1 s shutdown budget)', async (t) => {
    const { dir } = await record(t, ['cam1'], 5);
    const sender = start(t, 'sender', ['--source', `recording:${dir}`, '--pattern', 'push', '--connect', ipcEndpoint(), '--speed', 'max', '--no-stats']);
    await sender.ready();
    sender.kill('SIGTERM');
    const { code } = await sender.exited;
    assert.equal(code, 0, sender.stderr.join('\n'));
  });

  for (const [what, breakIt, message] of [
    ['a directory that is not a recording', async (dir: string) => rm(join(dir, 'index.jsonl')), /is not a recording: it has no index\.jsonl/],
    ['a corrupt index line', async (dir: string) => appendFile(join(dir, 'index.jsonl'), '{"topic":"cam1","seq":"x"}\n'), /index\.jsonl:\d+: /],
    ['a truncated segment', async (dir: string, file: string) => truncate(join(dir, file), (await stat(join(dir, file))).size - 10), /is truncated: /],
    ['a missing file', async (dir: string, file: string) => rm(join(dir, file)), /is missing: index\.jsonl names it/],
  ] as const) {
    test(`${what}: one line and exit 2`, async (t) => {
      const { dir } = await record(t, ['cam1'], 5);
      const [entry] = await index(dir);
      await breakIt(dir, entry!.file);
      const sender = start(t, 'sender', ['--source', `recording:${dir}`, '--pattern', 'push', '--connect', ipcEndpoint()]);
      const { code } = await sender.exited;
      assert.equal(sender.stderr.length, 1, sender.stderr.join('\n'));
      assert.match(sender.stderr[0]!, message);
      assert.equal(code, 2);
    });
  }
});
