import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import type { SenderSummary } from '../common/stats/sender-stats';
import { liveLine } from '../sender/cli';
import { CliProcess, PYTHON, type JsonRecord } from './helpers/cli-process';
import { ShapedLink, shapedLinksUnavailable } from './helpers/shaped-link';

/**
 * Slow links (#11), over real TCP through two network namespaces joined by a veth pair whose
 * sender side tc tbf shapes. testsrc at 720p30 and quality 80 is about 5 Mbit/s of JPEG, so a
 * 2 Mbit/s link carries well under half its frames. Tests wait for log lines and stats records;
 * none asserts a timing.
 */

const SLOW = '2mbit';
const FAST = '200mbit';
const STREAM = ['--width', '1280', '--height', '720', '--fps', '30', '--quality', '80', '--topic', 'slowcam'];

interface Link {
  link: ShapedLink;
  /** Starts a program in one end's namespace; it is stopped when the test ends, before the link goes. */
  start(end: 'sender' | 'receiver', name: 'sender' | 'receiver' | 'hub' | 'python', args: readonly string[], cwd?: string): CliProcess;
}

function shapedLink(t: TestContext, rate: string): Link {
  const link = ShapedLink.create(rate);
  const processes: CliProcess[] = [];
  t.after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    link.remove();
  });
  return {
    link,
    start(end, name, args, cwd) {
      const p = new CliProcess(name, args, {}, cwd, link.launcher(end));
      processes.push(p);
      return p;
    },
  };
}

type LinkStats = { limited: boolean; deliveredFps: number; offeredFps: number; linkBytesPerSecond: number; skipped: number; receivers: Array<{ limited: boolean; fps: number }> };
const linkOf = (record: JsonRecord): LinkStats | undefined => record.link as LinkStats | undefined;
const adaptOf = (record: JsonRecord): { quality: number; scale: number } | undefined => record.adapt as { quality: number; scale: number } | undefined;
const framesOf = (record: JsonRecord): number => (typeof record.frames === 'number' ? record.frames : -1);

async function startSender(net: Link, extra: readonly string[] = []): Promise<{ sender: CliProcess; endpoint: string }> {
  const sender = net.start('sender', 'sender', ['--bind', `tcp://${net.link.senderAddress}:*`, ...STREAM, ...extra]);
  return { sender, endpoint: await sender.ready() };
}

test('--adapt with --pattern push is a usage error: one line, exit 2', async (t) => {
  const sender = new CliProcess('sender', ['--adapt', '--pattern', 'push', '--bind', 'tcp://127.0.0.1:*']);
  t.after(() => sender.stop());
  const { code } = await sender.exited;
  assert.equal(code, 2);
  assert.deepEqual(sender.stderr, ['zerocam-sender: --adapt needs --pattern pub and encoding (not --passthrough): it fits the encode to what receivers report']);
});

const unavailable = shapedLinksUnavailable();
if (unavailable) console.log(`# slow-link tests skipped: ${unavailable}`);

describe('a stream over a link slower than itself', { skip: unavailable }, () => {
  test('frames keep arriving, and the sender reports it is link-limited, how much gets through and the link rate', async (t) => {
    const net = shapedLink(t, SLOW);
    const { sender, endpoint } = await startSender(net);
    const receiver = net.start('receiver', 'receiver', ['--connect', endpoint]);

    const limited = await sender.waitForJson('stdout', (r) => linkOf(r)?.limited === true && linkOf(r)!.skipped > 0);
    const link = linkOf(limited)!;
    assert.equal(link.receivers.length, 1);
    assert.ok(link.deliveredFps > 0 && link.deliveredFps < link.offeredFps, JSON.stringify(link));
    assert.ok(link.linkBytesPerSecond > 0, JSON.stringify(link));
    assert.match(liveLine(limited as unknown as SenderSummary), /link-limited: \d+ of \d+ fps/);
    // Still streaming: the receiver goes on counting frames after the sender said so.
    const first = await receiver.waitForJson('stdout', (r) => framesOf(r) > 0);
    await receiver.waitForJson('stdout', (r) => framesOf(r) > framesOf(first) + 10);
  });

  test('one receiver on a slow link does not cost a fast receiver its frames', async (t) => {
    const net = shapedLink(t, SLOW);
    const { sender, endpoint } = await startSender(net);
    net.start('receiver', 'receiver', ['--connect', endpoint]);
    // The fast one shares the sender's namespace: loopback to the same bound socket, no shaping.
    const fast = net.start('sender', 'receiver', ['--connect', endpoint]);
    const record = await sender.waitForJson('stdout', (r) => {
      const receivers = linkOf(r)?.receivers ?? [];
      return receivers.length === 2 && receivers.some((x) => x.limited) && receivers.some((x) => !x.limited);
    });
    const [slow, quick] = linkOf(record)!.receivers;
    assert.ok(slow!.fps < quick!.fps, JSON.stringify(linkOf(record)));
    await fast.waitForJson('stdout', (r) => framesOf(r) > 30);
  });

  test('--adapt lowers quality while the link is the limit, restores it once the link recovers, and lowers it when the link slows again', async (t) => {
    const net = shapedLink(t, SLOW);
    const { sender, endpoint } = await startSender(net, ['--adapt', '--min-quality', '20']);
    const receiver = net.start('receiver', 'receiver', ['--connect', endpoint]);
    const lowered = await sender.waitForJson('stderr', (r) => r.event === 'adapt' && typeof r.quality === 'number' && r.quality < 80);
    assert.ok((lowered.quality as number) >= 20);
    // Frames at the lower quality arrive (the header carries the quality each frame was encoded at).
    await receiver.waitForJson('stdout', (r) => framesOf(r) > 0);

    net.link.shape(FAST);
    const restored = await sender.waitForJson('stdout', (r) => adaptOf(r)?.quality === 80 && adaptOf(r)?.scale === 1 && linkOf(r)?.limited === false);
    assert.equal(adaptOf(restored)?.quality, 80);

    // And the link slows down again: the sender notices and lowers quality again.
    net.link.shape(SLOW);
    await sender.waitForJson('stdout', (r) => framesOf(r) > framesOf(restored) && (adaptOf(r)?.quality ?? 80) < 80);
  });

  test('through the hub, a viewer on a slow link misses frames there, and neither a fast viewer nor the camera slows down', async (t) => {
    const net = shapedLink(t, SLOW);
    const hub = net.start('sender', 'hub', ['--senders', 'tcp://127.0.0.1:*', '--receivers', `tcp://${net.link.senderAddress}:*`, '--hwm', '2']);
    const forwarding = await hub.waitForJson('stderr', (r) => r.event === 'forwarding');
    const camera = net.start('sender', 'sender', ['--connect', String(forwarding.senders), ...STREAM]);
    const slow = net.start('receiver', 'receiver', ['--connect', String(forwarding.receivers)]);
    const fast = net.start('sender', 'receiver', ['--connect', String(forwarding.receivers)]);
    // The slow viewer gets frames, with gaps: the hub drops what its link cannot carry, for it alone.
    const slowRecord = await slow.waitForJson('stdout', (r) => framesOf(r) > 10 && typeof r.dropped === 'number' && r.dropped > framesOf(r));
    // Meanwhile the fast viewer gets nearly every frame the camera sends, and the camera skips none.
    const fastRecord = await fast.waitForJson('stdout', (r) => framesOf(r) > 3 * framesOf(slowRecord));
    assert.ok((fastRecord.dropped as number) < framesOf(fastRecord), JSON.stringify(fastRecord));
    const cameraRecord = await camera.waitForJson('stdout', (r) => framesOf(r) > 0);
    assert.equal(cameraRecord.skipped, 0);
  });

  test("a plain SUB receiver that sends nothing back (the doc's Python program) still gets frames", async (t) => {
    if (!existsSync(PYTHON)) return t.skip(`${PYTHON} is missing (run scripts/setup.sh)`);
    const doc = await readFile(join(__dirname, '..', '..', 'docs', 'protocol.md'), 'utf8');
    const code = /```python\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(code, 'the doc has a python block');
    const dir = await mkdtemp(join(tmpdir(), 'zc-slow-py-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    await writeFile(join(dir, 'receive.py'), code);

    const net = shapedLink(t, SLOW);
    const { sender, endpoint } = await startSender(net, ['--adapt']);
    const python = net.start('receiver', 'python', [join(dir, 'receive.py'), endpoint, '20'], dir);
    const { code: exitCode } = await python.exited;
    assert.equal(exitCode, 0, python.stderr.join('\n'));
    assert.equal(python.stdout.filter((line) => line.startsWith('slowcam seq=')).length, 20);
    // It reports nothing, so the sender knows nothing of its link and --adapt leaves quality alone.
    const record = await sender.waitForJson('stdout', (r) => framesOf(r) > 0);
    assert.deepEqual(linkOf(record)?.receivers, []);
    assert.equal(adaptOf(record)?.quality, 80);
  });
});

describe('npm run bench -- --link', { skip: unavailable }, () => {
  test('runs the slow-link scenario with and without --adapt and reports both side by side', { timeout: 180_000 }, async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'zc-bench-link-test-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const json = join(dir, 'results.json');
    const bench = new CliProcess('bench', ['--link', '4mbit', '--quick', '--json', json]);
    t.after(() => bench.stop());
    const { code } = await bench.exited;
    assert.equal(code, 0, bench.stderr.join('\n'));
    assert.ok(bench.stdout.some((line) => line.startsWith('4mbit | default |')), bench.stdout.join('\n'));
    assert.ok(bench.stdout.some((line) => line.startsWith('4mbit | --adapt |')), bench.stdout.join('\n'));
    const { slowLink } = JSON.parse(await readFile(json, 'utf8')) as { slowLink: Array<{ adapt: boolean; fps: number; deliveredBitsPerSecond: number; physicalLimitMs: number }> };
    assert.deepEqual(slowLink.map((r) => r.adapt), [false, true]);
    for (const run of slowLink) assert.ok(run.fps > 0 && run.deliveredBitsPerSecond > 0 && run.physicalLimitMs > 0, JSON.stringify(run));
  });
});
