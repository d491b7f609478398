import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import { ViewerEngine } from '../common/viewer/viewer-engine';
import type { FrameMeta, ViewerPattern } from '../common/viewer/viewer-messages';
import { CliProcess } from './helpers/cli-process';
import { bindEndpoint, ipcEndpoint } from './helpers/endpoints';
import { startHub, type Hub } from './helpers/hub';
import { skipWithoutPython } from './helpers/python';

/**
 * Receivers that connect, take one frame and go, hundreds of times, while a camera streams: the hub
 * must stay up (Reliability III: it died of SIGSEGV within a few dozen such cycles). Three kinds of
 * receiver churn at once against each of the hub's patterns and intakes, over tcp and ipc: pyzmq
 * SUB/PULL sockets (test/python/churn_receiver.py), zerocam's JpegReceiver and the viewer's engine.
 * Each cycle waits for its frame (pubsub: the hub's cached newest frame answers every subscribe), so
 * the run is bounded by the counts below, and it fails at once if the hub exits.
 */

const CYCLES = { python: 200, receiver: 100, viewer: 100 } as const;
const SMALL = ['--width', '160', '--height', '120'];

interface Setup {
  name: string;
  /** The receivers' side: sub for pubsub, pull for pipeline. */
  pattern: ViewerPattern;
  topic: string;
  /** Starts the senders' side; returns the hub's flags for it. */
  senders(start: Starter): Promise<string[]>;
  /** Starts the camera once the hub is up (the senders that bind are up before it). */
  camera?(start: Starter, hub: Hub): void;
}
type Starter = (name: 'sender' | 'python', args: string[]) => CliProcess;

const SETUPS: Setup[] = [
  {
    name: 'pubsub, zerocam PUB senders (XSUB proxy)',
    pattern: 'sub',
    topic: 'cam1',
    senders: () => Promise.resolve(['--senders', ipcEndpoint()]),
    camera: (start, hub) => start('sender', ['--connect', hub.senders, '--topic', 'cam1', '--fps', '10', ...SMALL]),
  },
  {
    // A PULL gets no cached frame, only new ones shared out among the three churning receivers: a faster camera.
    name: 'pipeline, zerocam PUSH senders (PULL proxy)',
    pattern: 'pull',
    topic: 'cam1',
    senders: () => Promise.resolve(['--pattern', 'pipeline', '--senders', ipcEndpoint()]),
    camera: (start, hub) => start('sender', ['--pattern', 'push', '--connect', hub.senders, '--topic', 'cam1', '--fps', '250', ...SMALL]),
  },
  {
    name: 'pubsub, zerocam REQ senders (REP intake)',
    pattern: 'sub',
    topic: 'cam1',
    senders: () => Promise.resolve(['--sender-pattern', 'req', '--senders', ipcEndpoint()]),
    camera: (start, hub) => start('sender', ['--pattern', 'req', '--connect', hub.senders, '--topic', 'cam1', '--fps', '10', ...SMALL]),
  },
  {
    name: 'pubsub, imagezmq PUB senders (SUB intake)',
    pattern: 'sub',
    topic: 'pi-cam',
    senders: async (start) => {
      const sender = start('python', ['imagezmq_sender.py', 'pub', ipcEndpoint(), 'jpg', 'pi-cam', '0']);
      const bound = (await sender.waitForLine('stdout', (line) => line.startsWith('bound'))).split(' ')[1]!;
      return ['--sender-wire', 'imagezmq', '--senders-connect', bound];
    },
  },
];

/** Rejects as soon as the hub exits: a crash fails the test at once instead of leaving receivers waiting. */
function hubExit(hub: Hub): Promise<never> {
  return hub.process.exited.then(({ code, signal }) => {
    throw new Error(`the hub exited (${signal ?? code}) while receivers came and went.\nstderr:\n${hub.process.stderr.slice(-20).join('\n')}`);
  });
}

async function pythonChurn(start: Starter, setup: Setup, endpoint: string): Promise<void> {
  const python = start('python', ['churn_receiver.py', setup.pattern, endpoint, String(CYCLES.python)]);
  const { code } = await python.exited;
  assert.equal(code, 0, `${python.stdout.join('\n')}\n${python.stderr.join('\n')}`);
  assert.deepEqual(python.stdout, [`received ${CYCLES.python}`]);
}

async function receiverChurn(t: TestContext, setup: Setup, endpoint: string): Promise<void> {
  let current: JpegReceiver | undefined;
  let stopped = false;
  t.after(() => {
    stopped = true;
    current?.close();
  });
  for (let cycle = 0; cycle < CYCLES.receiver && !stopped; cycle++) {
    current = await JpegReceiver.open({ pattern: setup.pattern, attachment: { connect: [endpoint] } });
    if (stopped) return current.close();
    let first;
    for await (const received of current) {
      first = received;
      break;
    }
    current.close();
    if (stopped) return;
    if (first?.kind !== 'frame') assert.fail(`cycle ${cycle}: ${first?.kind ?? 'no message'}`);
    assert.equal(first.frame.topic, setup.topic);
  }
}

async function viewerChurn(t: TestContext, setup: Setup, endpoint: string): Promise<void> {
  // The first frame of each connection, by connection id, and who waits for it.
  const firstFrames = new Map<string, FrameMeta>();
  const waiters = new Map<string, (meta: FrameMeta) => void>();
  const engine = new ViewerEngine(
    {
      frame: (meta) => {
        if (firstFrames.has(meta.connectionId)) return;
        firstFrames.set(meta.connectionId, meta);
        waiters.get(meta.connectionId)?.(meta);
      },
      status: () => {},
    },
    { statusIntervalMs: 60_000 },
  );
  let stopped = false;
  t.after(() => {
    stopped = true;
    engine.close();
  });
  for (let cycle = 0; cycle < CYCLES.viewer && !stopped; cycle++) {
    const { id } = await engine.connect({ endpoint, pattern: setup.pattern, topics: [] });
    const meta = firstFrames.get(id) ?? (await new Promise<FrameMeta>((resolve) => waiters.set(id, resolve)));
    waiters.delete(id);
    assert.ok(engine.disconnect(id));
    assert.equal(meta.topic, setup.topic);
  }
  engine.close();
}

describe('zerocam-hub with receivers that connect, take a frame and go, hundreds of times', () => {
  for (const setup of SETUPS) {
    for (const transport of ['tcp', 'ipc'] as const) {
      test(`${setup.name}, receivers over ${transport}: the hub stays up, every receiver gets its frame, and it stops cleanly`, async (t) => {
        if (skipWithoutPython(t)) return;
        const start: Starter = (name, args) => {
          const child = new CliProcess(name, args);
          t.after(() => child.stop());
          return child;
        };
        const sendersFlags = await setup.senders(start);
        const hub = await startHub(t, [...sendersFlags, '--receivers', bindEndpoint(transport), '--no-stats']);
        setup.camera?.(start, hub);
        const crashed = hubExit(hub);
        await Promise.race([Promise.all([pythonChurn(start, setup, hub.receivers), receiverChurn(t, setup, hub.receivers), viewerChurn(t, setup, hub.receivers)]), crashed]);
        hub.process.kill('SIGTERM');
        assert.deepEqual(await hub.process.exited, { code: 0, signal: null }, hub.process.stderr.join('\n'));
      });
    }
  }
});
