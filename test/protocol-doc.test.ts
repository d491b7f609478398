import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import sharp from 'sharp';
import * as zmq from 'zeromq';
import { ProtocolError, type RejectReason } from '../common/errors';
import { JpegReceiver, type Received } from '../common/sockets/jpeg-receiver';
import { decodeLinkReport, isLinkReport, type LinkReport } from '../common/wire/link-report';
import { decodeFrame, encodeFrame, type FrameHeader } from '../common/wire/protocol';
import { CliProcess, PYTHON } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { structuredJpeg } from './helpers/media';

const DOC = join(__dirname, '..', '..', 'docs', 'protocol.md');

async function docReceiver(t: TestContext): Promise<string> {
  const doc = await readFile(DOC, 'utf8');
  const code = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code, 'the doc has a python block');
  const dir = await mkdtemp(join(tmpdir(), 'zc-py-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'receive.py'), code);
  return dir;
}

const LIMIT = 4096;
const header: FrameHeader = { session: 9, seq: 0, captureUs: 1_795_000_000_000_000, sendUs: 1_795_000_000_000_100, width: 32, height: 24, codec: 'jpeg', quality: 80 };
const jpeg = structuredJpeg(32, 24);
const withHeader = (mutate: (h: Buffer) => void, payload = jpeg): Buffer[] => {
  const parts = encodeFrame('cam1', header, payload);
  mutate(parts[1]);
  return parts;
};
const frame = (payload: Buffer, fields: Partial<FrameHeader> = {}): Buffer[] => encodeFrame('cam1', { ...header, ...fields }, payload);
/** Every rule broken once, and some broken together (the first check in the doc's order names the reason). */
const MALFORMED: Array<[string, () => Buffer[]]> = [
  ['two parts', () => frame(jpeg).slice(0, 2)],
  ['four parts', () => [...frame(jpeg), Buffer.alloc(1)]],
  ['an empty topic', () => [Buffer.alloc(0), ...frame(jpeg).slice(1)]],
  ['a topic starting with -', () => [Buffer.from('-lead'), ...frame(jpeg).slice(1)]],
  ['a 65-byte topic', () => [Buffer.from('x'.repeat(65)), ...frame(jpeg).slice(1)]],
  ['a topic with a slash', () => [Buffer.from('../etc'), ...frame(jpeg).slice(1)]],
  ['a topic with UTF-8', () => [Buffer.from('kamera-ü'), ...frame(jpeg).slice(1)]],
  ['a topic ending in a newline', () => [Buffer.from('cam1\n'), ...frame(jpeg).slice(1)]],
  ['a 47-byte header', () => [Buffer.from('cam1'), frame(jpeg)[1]!.subarray(0, 47), jpeg]],
  ['a bad magic', () => withHeader((h) => h.write('ZCAX', 0, 'ascii'))],
  ['version 2', () => withHeader((h) => h.writeUInt8(2, 4))],
  ['codec 2', () => withHeader((h) => h.writeUInt8(2, 5))],
  ['quality 101', () => withHeader((h) => h.writeUInt8(101, 6))],
  ['width 0', () => withHeader((h) => h.writeUInt16LE(0, 8))],
  ['height 0', () => withHeader((h) => h.writeUInt16LE(0, 10))],
  ['session 2^53', () => withHeader((h) => h.writeBigUInt64LE(1n << 53n, 16))],
  ['seq 2^60', () => withHeader((h) => h.writeBigUInt64LE(1n << 60n, 24))],
  ['capture_us 2^53', () => withHeader((h) => h.writeBigUInt64LE(1n << 53n, 32))],
  ['send_us 2^63', () => withHeader((h) => h.writeBigUInt64LE(1n << 63n, 40))],
  // 2^64 - 1 reads as -1 in Java's long or C's int64_t: negative values are rejected too.
  ['seq 2^64 - 1', () => withHeader((h) => h.writeBigUInt64LE((1n << 64n) - 1n, 24))],
  ['a JPEG past the limit', () => frame(structuredJpeg(32, 24, 0, LIMIT + 100))],
  ['no SOI', () => frame(Buffer.from([0, 0, 0xff, 0xd9]))],
  ['no EOI', () => frame(jpeg.subarray(0, -1))],
  ['an empty payload', () => frame(Buffer.alloc(0))],
  ['SOI and EOI alone', () => frame(Buffer.from([0xff, 0xd8, 0xff, 0xd9]))],
  ['a 3-byte payload', () => frame(Buffer.from([0xff, 0xd8, 0xd9]))],
  ['a SOF of length 7', () => frame(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 7, 8, 0, 24, 0, 32, 0xff, 0xda, 0, 2, 0xff, 0xd9]))],
  ['a segment overrunning the data', () => frame(Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x7f, 0xff, 0, 0xff, 0xd9]))],
  ['a scan with no SOF before it', () => frame(Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0]), Buffer.alloc(4), Buffer.from([0xff, 0xd9])]))],
  ['a header of 65535x65535 on a 320x240 JPEG', () => frame(structuredJpeg(320, 240), { width: 65535, height: 65535 })],
  ['width and height swapped', () => frame(jpeg, { width: 24, height: 32 })],
  ['a bad topic and a bad header', () => [Buffer.from('a b'), Buffer.alloc(3), jpeg]],
  ['a bad magic and no JPEG', () => withHeader((h) => h.write('XXXX', 0, 'ascii'), Buffer.from('not a jpeg'))],
  ['quality 200 and an oversized JPEG', () => withHeader((h) => h.writeUInt8(200, 6), structuredJpeg(32, 24, 0, LIMIT + 100))],
  // ZMQ_MAXMSGSIZE (2 x LIMIT) applies per part: this message arrives whole, and the connection stays.
  ['four parts, each under the cap, together past it', () => [Buffer.from('cam1'), ...Array.from({ length: 3 }, () => Buffer.alloc(1.5 * LIMIT))]],
];

/** Edge cases the doc's rules accept (topic "edge"): the Python receiver prints each as a frame. */
const ACCEPTED: Array<[string, () => Buffer[], string]> = [
  ['the smallest payload, 18 bytes', () => encodeFrame('edge', { ...header, width: 1, height: 1 }, Buffer.from('ffd8ffc00008080001000101ffda0002ffd9', 'hex')), 'seq=0 1x1 18 bytes'],
  // The SOF offsets count from the FF just before the marker byte, after the fill bytes.
  ['fill bytes before the SOF marker', () => encodeFrame('edge', header, Buffer.from('ffd8ffffffc00008080018002001ffda0002ffd9', 'hex')), 'seq=0 32x24 20 bytes'],
  ['seq 2^53 - 1', () => encodeFrame('edge', { ...header, seq: 2 ** 53 - 1 }, jpeg), `seq=${2 ** 53 - 1} 32x24 ${jpeg.length} bytes`],
];

describe('docs/protocol.md', () => {
  test('the Python receiver in the doc reads frames from a real zerocam-sender', async (t) => {
    const dir = await docReceiver(t);
    if (!existsSync(PYTHON)) return t.skip(`${PYTHON} is missing (run scripts/setup.sh)`);
    const sender = new CliProcess('sender', ['--bind', ipcEndpoint(), '--width', '320', '--height', '240', '--topic', 'pycam', '--no-stats']);
    t.after(() => sender.stop());
    const endpoint = await sender.ready();

    const output = await new Promise<string>((resolve, reject) => {
      execFile(PYTHON, ['receive.py', endpoint, '5'], { cwd: dir }, (error, stdout, stderr) => (error ? reject(new Error(stderr || error.message)) : resolve(stdout)));
    });
    const lines = output.trim().split('\n');
    assert.equal(lines.length, 5);
    for (const line of lines) assert.match(line, /^pycam seq=\d+ 320x240 \d+ bytes latency=-?\d+\.\d ms$/);
    const meta = await sharp(join(dir, 'newest.jpg')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 320, 240]);
  });

  test('the Python receiver in the doc rejects every malformed message for the reason zerocam gives, counts none as a frame, and accepts the edge cases zerocam accepts', async (t) => {
    const dir = await docReceiver(t);
    if (!existsSync(PYTHON)) return t.skip(`${PYTHON} is missing (run scripts/setup.sh)`);
    const expected = MALFORMED.map(([what, parts]): RejectReason => {
      try {
        decodeFrame(parts(), { maxFrameBytes: LIMIT });
      } catch (error) {
        if (error instanceof ProtocolError) return error.reason;
        throw error;
      }
      throw new Error(`zerocam accepts ${what}`);
    });
    for (const [, parts] of ACCEPTED) decodeFrame(parts(), { maxFrameBytes: LIMIT });

    const publisher = new zmq.Publisher({ linger: 0, sendHighWaterMark: 10_000 });
    t.after(() => publisher.close());
    await publisher.bind(ipcEndpoint());
    const receiver = new CliProcess('python', [join(dir, 'receive.py'), publisher.lastEndpoint!, '1000', String(LIMIT)], {}, dir);
    t.after(() => receiver.stop());
    // PUB drops what it sends before the subscription arrives: warm up until a frame gets through.
    const connected = receiver.waitForLine('stdout', (line) => line.startsWith('warm '));
    let warm = true;
    void connected.finally(() => (warm = false));
    while (warm) {
      await publisher.send(encodeFrame('warm', header, jpeg));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await connected;
    for (const [, parts] of MALFORMED) await publisher.send(parts());
    for (const [, parts] of ACCEPTED) await publisher.send(parts());
    await publisher.send(encodeFrame('probe', header, jpeg));
    // One connection delivers in order: once the probe is printed, every message before it was judged.
    await receiver.waitForLine('stdout', (line) => line.startsWith('probe '));

    const reasons = receiver.stderr.flatMap((line) => /^rejected \(([a-z-]+)\)/.exec(line)?.[1] ?? []);
    assert.deepEqual(reasons, expected);
    const edges = receiver.stdout.filter((line) => line.startsWith('edge '));
    assert.deepEqual(edges.map((line) => line.replace(/ latency=.*$/, '')), ACCEPTED.map(([, , printed]) => `edge ${printed}`));
    const others = receiver.stdout.filter((line) => !line.startsWith('edge '));
    assert.ok(others.every((line) => /^(warm|probe) seq=0 32x24 \d+ bytes latency=-?\d+\.\d ms$/.test(line)), receiver.stdout.join('\n'));
  });

  test('a zerocam receiver of cam1 counts a malformed cam10 as rejected and a valid cam10 nowhere, and reports only the latest session of cam1, also after it stops', { timeout: 20_000 }, async (t) => {
    const publisher = new zmq.XPublisher({ linger: 0, sendHighWaterMark: 1000 });
    t.after(() => publisher.close());
    await publisher.bind(ipcEndpoint());
    const receiver = await JpegReceiver.open({ pattern: 'sub', attachment: { connect: [publisher.lastEndpoint!] }, topics: ['cam1'] });
    t.after(() => receiver.close());
    const [subscription] = await publisher.receive();
    assert.equal(subscription!.toString('latin1'), '\x01cam1');
    const next = async (): Promise<Received> => (await receiver[Symbol.asyncIterator]().next()).value as Received;
    const badMagic = encodeFrame('cam10', header, jpeg);
    badMagic[1].write('ZCAX', 0, 'ascii');

    await publisher.send(encodeFrame('cam10', header, jpeg));
    await publisher.send(badMagic);
    await publisher.send(encodeFrame('cam1', header, jpeg));
    const seen = [await next(), await next()].map((item) => (item.kind === 'frame' ? item.frame.topic : `rejected (${item.error.reason})`));
    assert.deepEqual(seen, ['rejected (magic)', 'cam1']);

    const reports = async (until: (all: LinkReport[]) => boolean): Promise<LinkReport[]> => {
      const all: LinkReport[] = [];
      while (!until(all)) {
        const [message] = await publisher.receive();
        if (message && isLinkReport(message)) all.push(decodeLinkReport(message));
      }
      // Every report carries a fresh clock probe ("Clock offsets"); the rest is compared exactly.
      assert.ok(all.every((r) => r.probe !== undefined && r.probe >= 1 && r.probe < 2 ** 24), JSON.stringify(all));
      return all.map(({ probe: _probe, ...rest }) => rest);
    };
    // The stream sent one frame and stopped: its reports go on, with the same counts.
    const first = await reports((all) => all.length >= 3);
    for (const report of first) assert.deepEqual({ ...report, receiver: 0 }, { receiver: 0, topic: 'cam1', session: 9, frames: 1, bytes: jpeg.length, dropped: 0 });

    // A frame of another session replaces the old one: counts start afresh, and the old session is no longer reported.
    await publisher.send(encodeFrame('cam1', { ...header, session: 10, seq: 5 }, jpeg));
    assert.equal((await next()).kind, 'frame');
    const after = await reports((all) => all.filter((r) => r.session === 10).length >= 2);
    const firstNew = after.findIndex((r) => r.session === 10);
    for (const report of after.slice(firstNew)) assert.deepEqual({ ...report, receiver: 0 }, { receiver: 0, topic: 'cam1', session: 10, frames: 1, bytes: jpeg.length, dropped: 0 });
  });
});
