import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import * as zmq from 'zeromq';
import type { CurveKeyPair } from '../common/sockets/curve-keys';
import type { SocketSecurityOptions } from '../common/sockets/curve-security';
import { UsageError } from '../common/errors';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import { FramePublisher } from '../sender/send/frame-publisher';
import { createLogger } from '../common/log';
import { bindEndpoint } from './helpers/endpoints';
import { structuredJpeg } from './helpers/media';

const quiet = createLogger('curve-test', process.env.ZEROCAM_TEST_LOG ?? 'silent');
const jpeg = structuredJpeg(8, 8);
const fields = (seq: number) => ({ seq, captureUs: 1_000_000 + seq, width: 8, height: 8, codec: 'jpeg' as const, quality: 80 });

/** A binding PULL socket (the CURVE server) with its own allowlist under `zapDomain`, as the hub's two sides will have. */
async function pullServer(t: TestContext, serverKeys: CurveKeyPair, allowed: string[], zapDomain: string) {
  const denied: string[] = [];
  let onFirstDenial = (): void => {};
  const firstDenial = new Promise<void>((resolve) => (onFirstDenial = resolve));
  const onDenied = (): void => {
    denied.push(zapDomain);
    onFirstDenial();
  };
  const security: SocketSecurityOptions = { curve: { key: serverKeys, allow: new Set(allowed) }, log: quiet, zapDomain, onDenied };
  const receiver = await JpegReceiver.open({ pattern: 'pull', attachment: { bind: bindEndpoint('tcp') }, security });
  t.after(() => receiver.close());
  return { receiver, denied, firstDenial };
}

async function pushClient(t: TestContext, endpoint: string, serverKey: string, key: CurveKeyPair, topic: string): Promise<FramePublisher> {
  const sender = await FramePublisher.open({ pattern: 'push', attachment: { connect: [endpoint] }, topic, security: { curve: { key, serverKey }, log: quiet } }, 1);
  t.after(() => sender.close());
  return sender;
}

/** Sends until `until` settles; PUSH skips frames while no peer has completed its handshake. */
async function sendUntil(sender: FramePublisher, until: Promise<unknown>): Promise<void> {
  let settled = false;
  void until.finally(() => (settled = true));
  for (let seq = 0; !settled; seq++) {
    await sender.sendJpg(fields(seq), jpeg, 0);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

async function firstTopic(receiver: JpegReceiver): Promise<string> {
  for await (const item of receiver) if (item.kind === 'frame') return item.frame.topic;
  throw new Error('receiver closed');
}

describe('CURVE in the socket layer', () => {
  test('two server sockets in one process each enforce their own allowlist (one ZAP handler, a domain each)', async (t) => {
    const serverKeys = zmq.curveKeyPair();
    const camera = zmq.curveKeyPair();
    const viewer = zmq.curveKeyPair();
    const senders = await pullServer(t, serverKeys, [camera.publicKey], 'senders');
    const receivers = await pullServer(t, serverKeys, [viewer.publicKey], 'receivers');

    const cameraToSenders = await pushClient(t, senders.receiver.endpoint, serverKeys.publicKey, camera, 'camera');
    const viewerToReceivers = await pushClient(t, receivers.receiver.endpoint, serverKeys.publicKey, viewer, 'viewer');
    const gotCamera = firstTopic(senders.receiver);
    const gotViewer = firstTopic(receivers.receiver);
    await Promise.all([sendUntil(cameraToSenders, gotCamera), sendUntil(viewerToReceivers, gotViewer)]);
    assert.equal(await gotCamera, 'camera');
    assert.equal(await gotViewer, 'viewer');
    assert.deepEqual([senders.denied, receivers.denied], [[], []]);

    // The viewer's key may watch but cannot inject frames into the senders' side.
    const viewerToSenders = await pushClient(t, senders.receiver.endpoint, serverKeys.publicKey, viewer, 'injected');
    await sendUntil(viewerToSenders, senders.firstDenial);
    assert.deepEqual(senders.denied.slice(0, 1), ['senders']);
    assert.deepEqual(receivers.denied, []);
  });

  test('a server socket can close and a new one start at once (the ZAP handler restarts)', async (t) => {
    const serverKeys = zmq.curveKeyPair();
    const client = zmq.curveKeyPair();
    for (let round = 0; round < 3; round++) {
      const server = await pullServer(t, serverKeys, [client.publicKey], 'restart');
      const sender = await pushClient(t, server.receiver.endpoint, serverKeys.publicKey, client, `round${round}`);
      const got = firstTopic(server.receiver);
      await sendUntil(sender, got);
      assert.equal(await got, `round${round}`);
      sender.close();
      server.receiver.close();
    }
  });

  test('a CURVE server socket receives 140 kB frames one after another (zeromq.js wakes it before a frame is complete)', async (t) => {
    const serverKeys = zmq.curveKeyPair();
    const client = zmq.curveKeyPair();
    const server = await pullServer(t, serverKeys, [client.publicKey], 'large-frames');
    const sender = await pushClient(t, server.receiver.endpoint, serverKeys.publicKey, client, 'cam1');
    const big = structuredJpeg(8, 8, 0, 140_000);
    const frames = server.receiver[Symbol.asyncIterator]();
    for (let seq = 0; seq < 20; seq++) {
      while (!(await sender.sendJpg(fields(seq), big, 1))) await new Promise((resolve) => setImmediate(resolve));
      const next = await frames.next();
      assert.ok(!next.done && next.value.kind === 'frame');
      assert.equal(next.value.frame.header.seq, seq);
      assert.ok(next.value.frame.jpeg.equals(big));
    }
  });

  test('flags that do not fit the side are a UsageError before any socket exists', async () => {
    const keys = zmq.curveKeyPair();
    await assert.rejects(
      JpegReceiver.open({ pattern: 'sub', attachment: { connect: ['tcp://127.0.0.1:9'] }, security: { curve: { allow: new Set([keys.publicKey]) }, log: quiet } }),
      (error: unknown) => error instanceof UsageError && /--curve-allow is for a side that binds/.test(error.message),
    );
    await assert.rejects(
      FramePublisher.open({ pattern: 'pub', attachment: { bind: bindEndpoint('tcp') }, topic: 'x', security: { curve: { serverKey: keys.publicKey }, log: quiet } }, 1),
      (error: unknown) => error instanceof UsageError && /--curve-server is for a side that connects/.test(error.message),
    );
  });
});
