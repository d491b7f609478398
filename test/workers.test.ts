import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import { decodeHubMessage, encodeWorkerMessage, type HubMessage } from '../common/wire/work-protocol';
import { CliProcess } from './helpers/cli-process';
import { ipcEndpoint } from './helpers/endpoints';
import { makeClip } from './helpers/media';
import { skipWithoutPython } from './helpers/python';
import { tempDir } from './helpers/temp-dir';
import { webUrl } from './helpers/web-url';
import { BRIGHTNESS_PLUGIN, joined, ResultCollector, startWorkHub, startWorker, workOf, type ReceivedResult, type WorkHub } from './helpers/workers';

const SMALL = ['--width', '160', '--height', '120'];
const PLUGIN = ['--processor', BRIGHTNESS_PLUGIN];

function startSender(t: TestContext, hub: WorkHub, args: readonly string[]): CliProcess {
  const sender = new CliProcess('sender', ['--connect', hub.senders, '--no-stats', ...SMALL, ...args]);
  t.after(() => sender.stop());
  return sender;
}

const from = (results: readonly ReceivedResult[], worker: string): ReceivedResult[] => results.filter((r) => r.worker === worker);
const gone = (hub: WorkHub, name: string): Promise<unknown> =>
  hub.process.waitForJson('stderr', (r) => (r.event === 'worker-gone' || r.event === 'worker-silent' || r.event === 'worker-left') && r.worker === name);

describe('zerocam-hub --workers with zerocam-worker', () => {
  test('every mode, a file over REQ: each seq 0..N-1 has exactly one result, in order, though a worker is killed mid-run', async (t) => {
    const N = 40;
    const dir = await tempDir(t, 'zc-work-');
    const clip = await makeClip(join(dir, 'clip.mp4'), 'testsrc', { width: 160, height: 120, fps: 30, seconds: 1 });
    const hub = await startWorkHub(t, ['--sender-pattern', 'req', '--work-mode', 'every', '--work-queue', '8']);
    const results = await ResultCollector.open(t, hub);
    const slow = { BRIGHTNESS_DELAY_MS: '40' };
    const doomed = startWorker(t, hub, 'doomed', [...PLUGIN, '--jobs', '2'], slow);
    const survivor = startWorker(t, hub, 'survivor', [...PLUGIN, '--jobs', '2'], slow);
    await Promise.all([joined(hub, 'doomed'), joined(hub, 'survivor')]);
    const sender = startSender(t, hub, ['--pattern', 'req', '--source', `file:${clip}`, '--loop', '--fps', '0', '--topic', 'film', '--frames', String(N)]);

    await results.until((all) => from(all, 'doomed').length >= 5);
    // SIGKILL: no BYE; the hub finds out from the closed connection (or the heartbeats) and hands its frames on.
    const lost = gone(hub, 'doomed');
    doomed.kill('SIGKILL');
    await lost;
    await results.until((all) => all.length >= N);
    assert.equal((await sender.exited).code, 0, sender.stderr.join('\n'));

    assert.deepEqual(
      results.results.map((r) => r.seq),
      Array.from({ length: N }, (_, i) => i),
      'every frame once, in seq order',
    );
    assert.equal(new Set(results.results.map((r) => r.session)).size, 1);
    assert.ok(from(results.results, 'survivor').length > 0);
    const stats = workOf(await hub.process.waitForJson('stdout', (r) => Number(workOf(r).results) >= N));
    assert.deepEqual([stats.results, stats.late, stats.failed, stats.workers], [N, 0, 0, 1]);
    t.diagnostic(`redispatched ${String(stats.redispatched)}, duplicates ${String(stats.duplicates)}`);

    survivor.kill('SIGTERM');
    assert.equal((await survivor.exited).code, 0, 'SIGTERM: a clean exit');
    await gone(hub, 'survivor');
  });

  test('live mode: results go on from the other worker once one dies, and frames nobody takes are skipped', async (t) => {
    const hub = await startWorkHub(t, []);
    const results = await ResultCollector.open(t, hub);
    const slow = { BRIGHTNESS_DELAY_MS: '30' };
    const a = startWorker(t, hub, 'a', PLUGIN, slow);
    startWorker(t, hub, 'b', PLUGIN, slow);
    await Promise.all([joined(hub, 'a'), joined(hub, 'b')]);
    startSender(t, hub, ['--fps', '60', '--topic', 'live1']);
    await results.until((all) => from(all, 'a').length >= 3 && from(all, 'b').length >= 3);
    const lost = gone(hub, 'a');
    a.kill('SIGKILL');
    await lost;
    const before = results.results.length;
    await results.until((all) => all.length >= before + 10);
    const after = results.results.slice(before + 1);
    assert.deepEqual(new Set(after.map((r) => r.worker)), new Set(['b']));
    const seqs = results.results.map((r) => r.seq);
    assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), 'results leave in seq order');
    const stats = workOf(await hub.process.waitForJson('stdout', (r) => Number(workOf(r).skipped) > 0 && workOf(r).workers === 1));
    assert.ok(Number(stats.skipped) > 0, 'at 60 fps two 30 ms workers skip frames rather than queue them');
  });

  test('--affinity stream keeps each stream on one worker, and moves it when its worker dies', async (t) => {
    const hub = await startWorkHub(t, ['--affinity', 'stream']);
    const results = await ResultCollector.open(t, hub);
    const a = startWorker(t, hub, 'a', PLUGIN);
    const b = startWorker(t, hub, 'b', PLUGIN);
    await Promise.all([joined(hub, 'a'), joined(hub, 'b')]);
    startSender(t, hub, ['--fps', '20', '--topic', 'left']);
    startSender(t, hub, ['--fps', '20', '--topic', 'right']);
    const of = (all: readonly ReceivedResult[], topic: string): ReceivedResult[] => all.filter((r) => r.topic === topic);
    await results.until((all) => of(all, 'left').length >= 5 && of(all, 'right').length >= 5);
    const leftWorkers = new Set(of(results.results, 'left').map((r) => r.worker));
    const rightWorkers = new Set(of(results.results, 'right').map((r) => r.worker));
    assert.equal(leftWorkers.size, 1, 'left stays on one worker');
    assert.equal(rightWorkers.size, 1, 'right stays on one worker');
    const [leftWorker] = leftWorkers;
    assert.notDeepEqual(leftWorkers, rightWorkers, 'the streams are spread over the workers');

    const lost = gone(hub, leftWorker!);
    (leftWorker === 'a' ? a : b).kill('SIGKILL');
    await lost;
    const before = results.results.length;
    await results.until((all) => of(all.slice(before), 'left').length >= 5);
    const moved = of(results.results.slice(before), 'left');
    const other = leftWorker === 'a' ? 'b' : 'a';
    assert.deepEqual(new Set(moved.map((r) => r.worker)), new Set([other]), 'left moved to the other worker');
    const stats = workOf(await hub.process.waitForJson('stdout', (r) => Number(workOf(r).moved) >= 1));
    assert.equal(stats.moved, 1);
  });

  test('--affinity stream: a worker that joins takes streams from a busier one, so scaling up spreads them', async (t) => {
    const hub = await startWorkHub(t, ['--affinity', 'stream']);
    const results = await ResultCollector.open(t, hub);
    startWorker(t, hub, 'first', PLUGIN);
    await joined(hub, 'first');
    startSender(t, hub, ['--fps', '20', '--topic', 'left']);
    startSender(t, hub, ['--fps', '20', '--topic', 'right']);
    const of = (all: readonly ReceivedResult[], topic: string): ReceivedResult[] => all.filter((r) => r.topic === topic);
    await results.until((all) => of(all, 'left').length >= 3 && of(all, 'right').length >= 3);
    assert.deepEqual(new Set(results.results.map((r) => r.worker)), new Set(['first']), 'one worker: both streams on it');
    const moved = hub.process.waitForJson('stderr', (r) => r.event === 'stream-moved' && r.worker === 'second');
    startWorker(t, hub, 'second', PLUGIN);
    const topic = String((await moved).topic);
    const before = results.results.length;
    await results.until((all) => of(all.slice(before), topic).filter((r) => r.worker === 'second').length >= 5);
    const other = topic === 'left' ? 'right' : 'left';
    await results.until((all) => of(all.slice(before), other).length >= 5);
    assert.deepEqual(new Set(of(results.results.slice(before), other).map((r) => r.worker)), new Set(['first']), `${other} stays where it was`);
  });

  test('malformed and unknown results are counted and dropped; a peer sending garbage is disconnected; the hub goes on', async (t) => {
    const hub = await startWorkHub(t, []);
    const results = await ResultCollector.open(t, hub);
    startSender(t, hub, ['--fps', '20', '--topic', 'cam']);
    const fake = new zmq.Dealer({ linger: 0, receiveTimeout: 10_000 });
    t.after(() => fake.close());
    fake.connect(hub.workers);
    const limits = { maxFrameBytes: 1 << 20 };
    const nextWork = async (): Promise<Extract<HubMessage, { kind: 'work' }>> => {
      for (;;) {
        const message = decodeHubMessage(await fake.receive(), limits);
        if (message.kind === 'work') return message;
      }
    };
    await fake.send(encodeWorkerMessage({ kind: 'hello', processor: 'fake', worker: 'fake', jobs: 1 }));
    const first = await nextWork();
    await fake.send(['ZCW1', 'RESULT', String(first.job), '{"processingMs":1}', '{"oops":'].map((s) => Buffer.from(s)));
    // The malformed result gave the credit back: the next frame comes.
    const second = await nextWork();
    await fake.send(encodeWorkerMessage({ kind: 'result', job: 999_999_999, processingMs: 1, body: Buffer.from('{}') }));
    await fake.send(encodeWorkerMessage({ kind: 'result', job: second.job, processingMs: 2, body: Buffer.from('{"ok":true}') }));
    await results.until((all) => all.some((r) => r.worker === 'fake'));
    assert.deepEqual(results.results.find((r) => r.worker === 'fake')?.body, { ok: true });

    await fake.send([Buffer.from('GET / HTTP/1.1')]);
    let reply: HubMessage;
    do reply = decodeHubMessage(await fake.receive(), limits);
    while (reply.kind !== 'disconnect');
    assert.match(reply.reason, /protocol error/);
    const stats = workOf(await hub.process.waitForJson('stdout', (r) => Number(workOf(r).garbage) >= 1));
    assert.deepEqual([stats.malformed, stats.unknown, stats.garbage, stats.workers], [1, 1, 1, 0]);

    // The hub goes on: a real worker joins and gets results out.
    startWorker(t, hub, 'real', PLUGIN);
    await results.until((all) => all.some((r) => r.worker === 'real'));
  });

  test('/streams.json and /metrics show the workers, results/s, processing and the work counters per processor', async (t) => {
    const hub = await startWorkHub(t, ['--http', '0']);
    const url = String((await hub.process.waitForJson('stderr', (r) => r.event === 'serving')).url);
    const results = await ResultCollector.open(t, hub);
    startWorker(t, hub, 'w', PLUGIN);
    startSender(t, hub, ['--fps', '20', '--topic', 'metered']);
    await results.until((all) => all.length >= 5);
    const streams = (await (await fetch(webUrl(url, 'streams.json'))).json()) as { work: { workers: number; processors: Record<string, { results: number }>; events: Record<string, number> } };
    assert.equal(streams.work.workers, 1);
    assert.ok(streams.work.processors.brightness!.results >= 5);
    assert.equal(streams.work.events.malformed, 0);
    const metrics = await (await fetch(webUrl(url, 'metrics'))).text();
    assert.match(metrics, /^zerocam_work_workers\{processor="brightness"\} 1$/m);
    assert.match(metrics, /^zerocam_work_results_total\{processor="brightness"\} \d+$/m);
    assert.match(metrics, /^zerocam_work_processing_seconds\{processor="brightness",quantile="0.5"\} [\d.e-]+$/m);
    assert.match(metrics, /^zerocam_work_events_total\{event="redispatched"\} 0$/m);
  });

  test('the recorder (--results) appends each result to results.jsonl, joined to the frame it saved', async (t) => {
    const hub = await startWorkHub(t, []);
    startWorker(t, hub, 'w', PLUGIN);
    await joined(hub, 'w');
    const dir = await tempDir(t, 'zc-results-');
    const receivers = String((await hub.process.waitForJson('stderr', (r) => r.event === 'forwarding')).receivers);
    const subscribed = hub.process.waitForJson('stderr', (r) => r.event === 'results-subscribed');
    const recorder = new CliProcess('receiver', ['--connect', receivers, '--out', dir, '--no-fsync', '--results', hub.results]);
    t.after(() => recorder.stop());
    await subscribed;
    startSender(t, hub, ['--fps', '20', '--topic', 'rec']);
    await recorder.waitForJson('stdout', (r) => Number(r.results) >= 10);
    recorder.kill('SIGTERM');
    assert.equal((await recorder.exited).code, 0, recorder.stderr.join('\n'));
    const lines = (await readFile(join(dir, 'results.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown> & { file: string | null });
    assert.ok(lines.length >= 10);
    const saved = new Set((await readFile(join(dir, 'index.jsonl'), 'utf8')).trim().split('\n').map((line) => String((JSON.parse(line) as { file: string }).file)));
    for (const line of lines) {
      assert.deepEqual([line.topic, line.processor, line.worker], ['rec', 'brightness', 'w']);
      assert.equal(typeof (line.result as { mean?: unknown }).mean, 'number');
      if (line.file !== null) assert.ok(saved.has(line.file), `${line.file} is in index.jsonl`);
    }
    assert.ok(lines.some((line) => line.file !== null), 'results are joined to their saved frames');
  });

  test("the Python worker in docs/protocol.md runs against the hub", async (t) => {
    if (skipWithoutPython(t)) return;
    const doc = await readFile(join(__dirname, '..', '..', 'docs', 'protocol.md'), 'utf8');
    const code = [...doc.matchAll(/```python\n([\s\S]*?)```/g)].map((m) => m[1]!).find((block) => block.includes("PROTOCOL = b'ZCW1'"));
    assert.ok(code, 'the doc has the worker');
    const dir = await tempDir(t, 'zc-pyworker-');
    const script = join(dir, 'worker.py');
    await writeFile(script, code);
    const hub = await startWorkHub(t, []);
    const results = await ResultCollector.open(t, hub);
    startSender(t, hub, ['--fps', '20', '--topic', 'pycam']);
    const python = new CliProcess('python', [script, hub.workers, '5']);
    t.after(() => python.stop());
    assert.equal((await python.exited).code, 0, python.stderr.join('\n'));
    await results.until((all) => all.filter((r) => r.processor === 'py-bright').length >= 5);
    const first = results.results.find((r) => r.processor === 'py-bright')!;
    assert.equal(first.topic, 'pycam');
    assert.equal(typeof first.body.mean, 'number');
    assert.equal((first.body.boxes as unknown[]).length, 1);
    await gone(hub, String(first.worker));
  });

  test('--work-topics and --work-every choose the frames processed', async (t) => {
    const hub = await startWorkHub(t, ['--sender-pattern', 'req', '--work-mode', 'every', '--work-topics', 'keep', '--work-every', '3']);
    const results = await ResultCollector.open(t, hub);
    startWorker(t, hub, 'w', PLUGIN);
    await joined(hub, 'w');
    const keep = startSender(t, hub, ['--pattern', 'req', '--topic', 'keep', '--frames', '12', '--fps', '50']);
    const other = startSender(t, hub, ['--pattern', 'req', '--topic', 'other', '--frames', '6', '--fps', '50']);
    assert.deepEqual([(await keep.exited).code, (await other.exited).code], [0, 0]);
    await results.until((all) => all.length >= 4);
    const stats = workOf(await hub.process.waitForJson('stdout', (r) => Number(workOf(r).results) >= 4 && Number(r.frames) >= 18));
    assert.deepEqual(results.results.map((r) => [r.topic, r.seq]), [['keep', 0], ['keep', 3], ['keep', 6], ['keep', 9]]);
    assert.deepEqual([stats.offered, stats.results], [4, 4]);
  });

  test('a worker finds a restarted hub by itself (the new hub tells it to say HELLO again)', async (t) => {
    const endpoints = ['--workers', ipcEndpoint(), '--results', ipcEndpoint()];
    const first = await startWorkHub(t, endpoints);
    const worker = startWorker(t, first, 'loyal', PLUGIN);
    await joined(first, 'loyal');
    first.process.kill('SIGTERM');
    assert.equal((await first.process.exited).code, 0);
    const second = await startWorkHub(t, endpoints);
    const results = await ResultCollector.open(t, second);
    await joined(second, 'loyal');
    startSender(t, second, ['--fps', '20', '--topic', 'again']);
    await results.until((all) => all.some((r) => r.worker === 'loyal'));
    worker.kill('SIGTERM');
    assert.equal((await worker.exited).code, 0);
  });

  const BAD: Array<[string, 'worker' | 'hub' | 'receiver', string[]]> = [
    ['no --processor', 'worker', []],
    ['--jobs 0', 'worker', ['--processor', 'thumbnail', '--jobs', '0']],
    ['a plug-in that does not exist', 'worker', ['--processor', '/nonexistent/detector.mjs']],
    ['a name outside the alphabet', 'worker', ['--processor', 'thumbnail', '--name', 'a b']],
    ['--work-mode sometimes', 'hub', ['--workers', 'tcp://127.0.0.1:*', '--work-mode', 'sometimes']],
    ['--results without --out', 'receiver', ['--results', 'tcp://127.0.0.1:5558']],
  ];
  for (const [what, name, args] of BAD) {
    test(`zerocam-${name} with ${what}: one readable line and exit code 2`, async (t) => {
      const child = new CliProcess(name, args);
      t.after(() => child.stop());
      const { code } = await child.exited;
      const lines = child.stderr.filter(Boolean);
      assert.equal(lines.length, 1, `stderr:\n${lines.join('\n')}`);
      assert.match(lines[0]!, new RegExp(`^zerocam-${name}: \\S`));
      assert.equal(code, 2, lines[0]);
    });
  }
});
