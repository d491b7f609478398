import { generateKeyPair } from '../common/sockets/curve-keys';
import { JpegReceiver, type Received } from '../common/sockets/jpeg-receiver';
import { FramePublisher } from '../sender/send/frame-publisher';
import { createLogger } from '../common/log';
import { LatencyHistogram } from '../common/stats/latency-histogram';
import { cameraLikeJpeg } from './hub';

export interface TransportCost {
  messageBytes: number;
  messagesPerRound: number;
  rounds: number;
  /** Median over rounds of CPU (this process, every thread: both ends and libzmq's I/O threads) per message. */
  plaintextCpuMs: number;
  curveCpuMs: number;
  plaintextP50Ms: number;
  curveP50Ms: number;
}

interface Link {
  sender: FramePublisher;
  receiver: JpegReceiver;
  frames: AsyncIterator<Received>;
}

async function openLink(curve: boolean): Promise<Link> {
  const log = createLogger('bench-curve', 'warn');
  const server = generateKeyPair();
  const client = generateKeyPair();
  const receiver = await JpegReceiver.open({
    pattern: 'pull',
    attachment: { bind: 'tcp://127.0.0.1:*' },
    security: curve ? { curve: { key: server, allow: new Set([client.publicKey]) }, log } : undefined,
  });
  const sender = await FramePublisher.open(
    { pattern: 'push', attachment: { connect: [receiver.endpoint] }, topic: 'bench', security: curve ? { curve: { key: client, serverKey: server.publicKey }, log } : undefined },
    1,
  );
  return { sender, receiver, frames: receiver[Symbol.asyncIterator]() };
}

const FIELDS = { captureUs: 1, width: 1280, height: 720, codec: 'jpeg' as const, quality: 80 };

/** One message at a time, sent and received: a camera's pace has one frame in flight. */
async function roundTrip(link: Link, jpeg: Buffer, seq: number): Promise<void> {
  // PUSH skips a frame until the connection (and its handshake) is up.
  while (!(await link.sender.sendJpg({ ...FIELDS, seq }, jpeg, 1))) await new Promise((resolve) => setImmediate(resolve));
  const next = await link.frames.next();
  if (next.done) throw new Error('the bench link closed');
  if (next.value.kind === 'rejected') throw new Error(`the bench link rejected a frame: ${next.value.error.message}`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

/**
 * CURVE's cost on the socket path alone: the same camera-like 720p JPEG (the hub section's; receivers
 * check JPEG structure, so it must be a real one) through FramePublisher and
 * JpegReceiver over tcp loopback, plaintext and CURVE in alternating rounds so both see the same
 * machine. Unlike the pipeline runs, no encode CPU hides the difference.
 */
export async function measureCurveTransport(messagesPerRound: number, rounds: number): Promise<TransportCost> {
  const jpeg = await cameraLikeJpeg();
  const links = { plaintext: await openLink(false), curve: await openLink(true) };
  const cpu = { plaintext: [] as number[], curve: [] as number[] };
  const latency = { plaintext: new LatencyHistogram(), curve: new LatencyHistogram() };
  try {
    for (const link of Object.values(links)) for (let seq = 0; seq < 10; seq++) await roundTrip(link, jpeg, seq);
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['plaintext', 'curve'] as const) {
        const start = process.cpuUsage();
        for (let seq = 0; seq < messagesPerRound; seq++) {
          const sentAt = performance.now();
          await roundTrip(links[mode], jpeg, seq);
          latency[mode].recordMicros((performance.now() - sentAt) * 1000);
        }
        const used = process.cpuUsage(start);
        cpu[mode].push((used.user + used.system) / 1000 / messagesPerRound);
      }
    }
  } finally {
    for (const link of Object.values(links)) {
      link.sender.close();
      link.receiver.close();
    }
  }
  const round3 = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    messageBytes: jpeg.length,
    messagesPerRound,
    rounds,
    plaintextCpuMs: round3(median(cpu.plaintext)),
    curveCpuMs: round3(median(cpu.curve)),
    plaintextP50Ms: latency.plaintext.percentilesMs().p50,
    curveP50Ms: latency.curve.percentilesMs().p50,
  };
}
