import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import type { HubBench } from '../bench/hub';
import type { BenchResults } from '../bench/report';
import type { SpeedSection } from '../bench/speed';

const run = promisify(execFile);

/** Smoke only: the bench runs end to end and reports every section. It never judges a number. */
test('npm run bench in its smallest mode writes every section with positive numbers', { timeout: 120_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'zc-bench-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const json = join(dir, 'results.json');
  const args = ['--quick', '--sizes', '320x240', '--latency-sizes', '320x240', '--frames', '30', '--encode-frames', '10', '--latency-seconds', '1', '--json', json];
  const { stdout } = await run(process.execPath, [join(__dirname, '..', 'bench', 'bench.js'), ...args]);
  for (const heading of ['Encode ceiling', 'Pipeline, unthrottled', 'Latency', 'Memory', 'Targets']) assert.match(stdout, new RegExp(heading));

  const results = JSON.parse(await readFile(json, 'utf8')) as BenchResults;
  assert.equal(results.mode, 'quick');
  assert.ok(results.machine.cores > 0 && results.machine.cpuModel.length > 0 && results.machine.opencv.length > 0);

  const [ceiling] = results.encodeCeiling;
  assert.ok(ceiling, 'one encode ceiling');
  assert.equal(ceiling.size, '320x240');
  for (const cost of [ceiling.capture, ceiling.decode, ceiling.sharp, ceiling.sharpOtherCoding, ceiling.sharpPassThrough, ceiling.imencode]) {
    assert.ok(cost.msPerFrame > 0 && cost.cpuMsPerFrame > 0, JSON.stringify(cost));
  }
  for (const encoder of [ceiling.sharp, ceiling.imencode]) assert.ok(encoder.fps > 0 && encoder.parallelFps > 0 && encoder.meanBytes > 0);

  assert.deepEqual(results.throughput.map((r) => r.transport), ['tcp', 'ipc']);
  assert.equal(results.latency.length, 1);
  for (const run of [...results.throughput.map((r) => r.run), ...results.latency]) {
    assert.ok(run.sender.framesSent > 0 && run.receiver.frames > 0 && run.receiver.fps > 0, JSON.stringify(run));
    for (const usage of [run.sender.usage, run.receiver.usage]) {
      assert.ok(usage.frames > 0 && usage.cpuMsPerFrame > 0 && usage.rssStartBytes > 0 && usage.rssEndBytes > 0, JSON.stringify(usage));
    }
  }
  for (const throughput of results.throughput) assert.ok(throughput.fps > 0 && throughput.ceilingFps > 0 && throughput.ratio > 0);
  assert.ok(results.latency[0]!.receiver.latencyMs.p50 > 0);

  const reference = results.reference;
  assert.ok(reference, 'the Python reference loop section');
  for (const { python, wholeFrames } of reference.latency) {
    assert.ok(python.receiver.frames > 0 && python.receiver.latencyMs.p50 > 0 && python.senderCpuMsPerFrame > 0, JSON.stringify(python));
    assert.ok(wholeFrames.receiver.frames > 0);
  }
  assert.ok(reference.throughput.every(({ python }) => python.receiver.fps > 0));
  assert.ok(reference.passthrough && reference.passthrough.passthrough.receiver.frames > 0, 'the --passthrough run streamed');
  assert.ok(reference.idle.seconds > 0 && reference.idle.cpuMs >= 0);
  assert.match(stdout, /Against the Python reference loop/);
  assert.match(stdout, /### Hub/);
  const hub = (results as BenchResults & { hub?: HubBench }).hub;
  assert.ok(hub && hub.direct.frames > 0 && hub.viaHub.frames > 0 && hub.viaHub.p50 > 0, JSON.stringify(hub));
  assert.ok(hub.cpuMsPerFrame.oneReceiver > 0 && hub.cpuMsPerFrame.fourReceivers > 0 && hub.rss.startBytes > 0, JSON.stringify(hub));

  assert.match(stdout, /CURVE's cost/);
  const curve = results.curve!;
  for (const run of [curve.plaintext, curve.curve]) assert.ok(run.receiver.frames > 0 && run.sender.usage.cpuMsPerFrame > 0 && run.receiver.usage.cpuMsPerFrame > 0, JSON.stringify(run));
  assert.ok(curve.transport.plaintextCpuMs > 0 && curve.transport.curveCpuMs > 0, JSON.stringify(curve.transport));

  assert.match(stdout, /Speed III \(#20\)/);
  const speed = (results as BenchResults & { speed?: SpeedSection }).speed;
  assert.ok(speed, "#20's section");
  assert.equal(speed.rows.length, 6);
  for (const row of speed.rows) assert.ok(row.met === null || typeof row.met === 'boolean', JSON.stringify(row));
  for (const run of [speed.measures.receiver.paced, speed.measures.receiver.unthrottled]) {
    assert.ok(run.receiver.usage.frames > 0 && run.pythonReceiver && run.pythonReceiver.measuredFrames > 0 && run.pythonReceiver.cpuMsPerFrame > 0, JSON.stringify(run.pythonReceiver));
    assert.equal(run.pythonReceiver.rejected, 0, 'the pyzmq receiver accepts every frame zerocam sends');
  }
  const independent = speed.measures.unthrottled.ceiling;
  for (const loops of [independent.nodeOne, independent.node, independent.python]) assert.ok(loops.fps > 0 && loops.cpuMsPerFrame > 0 && loops.meanBytes > 0, JSON.stringify(loops));
  assert.equal(independent.node.processes, results.machine.cores);
  assert.ok(Number.isFinite(hub.pythonProxyCpuMsPerFrame.oneReceiver) && Number.isFinite(hub.pythonProxyCpuMsPerFrame.fourReceivers), JSON.stringify(hub.pythonProxyCpuMsPerFrame));

  assert.ok(results.targets.length > 0);
  for (const check of results.targets) assert.ok(check.met === null || typeof check.met === 'boolean', JSON.stringify(check));
});
