/**
 * A worker for the seeds' pipeline (`zerocam-hub --pattern pipeline`), for bench/workers.ts to compare
 * against: a PULL socket on the hub's receivers, the same plug-in processor as the zerocam workers,
 * and a PUSH to the bench's sink with [seq, captureUs, worker, processingMs].
 *   node pull-worker.js HUB_RECEIVERS SINK NAME PLUGIN
 */
import { pathToFileURL } from 'node:url';
import * as zmq from 'zeromq';
import { DEFAULTS } from '../common/defaults';
import { decodeFrame } from '../common/wire/protocol';

type Plugin = (frame: { jpeg: Buffer; topic: string; session: number; seq: number; captureUs: number; width: number; height: number }) => Promise<unknown>;

async function main(): Promise<void> {
  const [endpoint, sink, name, plugin] = process.argv.slice(2) as [string, string, string, string];
  const module = (await import(pathToFileURL(plugin).href)) as { default: Plugin };
  const pull = new zmq.Pull({ linger: 0, receiveHighWaterMark: DEFAULTS.receiveHighWaterMark });
  const push = new zmq.Push({ linger: 0 });
  pull.connect(endpoint);
  push.connect(sink);
  process.on('SIGTERM', () => {
    pull.close();
    push.close();
  });
  process.stdout.write('ready\n');
  try {
    for await (const parts of pull) {
      const frame = decodeFrame(parts, { maxFrameBytes: DEFAULTS.maxFrameBytes });
      const started = performance.now();
      await module.default({ jpeg: frame.jpeg, topic: frame.topic, ...frame.header });
      const ms = performance.now() - started;
      await push.send([String(frame.header.seq), String(frame.header.captureUs), name, String(ms)]);
    }
  } catch (error) {
    if (!pull.closed) throw error;
  }
}

void main();
