import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolError } from '../common/errors';
import { encodeFrame, type FrameHeader } from '../common/wire/protocol';
import { decodeResult, encodeResult, resultBoxes, type WorkResult } from '../common/wire/result-protocol';
import { decodeHubMessage, decodeWorkerMessage, encodeHubMessage, encodeWork, encodeWorkerMessage, WorkProtocolError, type WorkerMessage } from '../common/wire/work-protocol';
import { ResultOrder } from '../hub/work/result-order';
import { structuredJpeg } from './helpers/media';

const LIMITS = { maxFrameBytes: 4096 };
const header: FrameHeader = { session: 7, seq: 3, captureUs: 1_795_000_000_000_000, sendUs: 1_795_000_000_000_100, width: 32, height: 24, codec: 'jpeg', quality: 80 };
const jpeg = structuredJpeg(32, 24);
const ascii = (text: string): Buffer => Buffer.from(text);

describe('work protocol (docs/protocol.md, "Workers and results")', () => {
  const messages: WorkerMessage[] = [
    { kind: 'hello', processor: 'faces', worker: 'host-1', jobs: 2 },
    { kind: 'credit', credit: 3 },
    { kind: 'heartbeat' },
    { kind: 'result', job: 42, processingMs: 12.5, body: Buffer.from('{"boxes":[]}'), image: undefined },
    { kind: 'result', job: 2 ** 40, processingMs: 0, body: Buffer.from('{}'), image: jpeg },
    { kind: 'bye' },
  ];
  for (const message of messages) {
    test(`worker ${message.kind} round-trips`, () => {
      const parts = encodeWorkerMessage(message);
      assert.equal(parts[0]!.toString(), 'ZCW1');
      assert.deepEqual(decodeWorkerMessage(parts, LIMITS), message);
    });
  }

  test('WORK carries the frame parts as they are, and decodes to the frame', () => {
    const frame = encodeFrame('cam1', header, jpeg);
    const parts = encodeWork(9, frame);
    assert.equal(parts[5], jpeg, 'the very JPEG buffer, not a copy');
    const decoded = decodeHubMessage(parts, LIMITS);
    assert.equal(decoded.kind, 'work');
    if (decoded.kind !== 'work') return;
    assert.equal(decoded.job, 9);
    assert.deepEqual(decoded.frame.header, header);
    assert.deepEqual(decodeHubMessage(encodeHubMessage({ kind: 'heartbeat' }), LIMITS), { kind: 'heartbeat' });
    assert.deepEqual(decodeHubMessage(encodeHubMessage({ kind: 'disconnect', reason: 'bye now' }), LIMITS), { kind: 'disconnect', reason: 'bye now' });
  });

  const GARBAGE: Array<[string, Buffer[]]> = [
    ['no parts', []],
    ['another protocol', [ascii('ZCW2'), ascii('HELLO'), ascii('{}')]],
    ['an unknown command', [ascii('ZCW1'), ascii('HELP')]],
    ['HELLO with a bad name', [ascii('ZCW1'), ascii('HELLO'), ascii('{"processor":"a b","worker":"w","jobs":1}')]],
    ['HELLO with 0 jobs', [ascii('ZCW1'), ascii('HELLO'), ascii('{"processor":"p","worker":"w","jobs":0}')]],
    ['HELLO with 65 jobs', [ascii('ZCW1'), ascii('HELLO'), ascii('{"processor":"p","worker":"w","jobs":65}')]],
    ['HELLO that is not JSON', [ascii('ZCW1'), ascii('HELLO'), ascii('{')]],
    ['CREDIT 0', [ascii('ZCW1'), ascii('CREDIT'), ascii('0')]],
    ['CREDIT -1', [ascii('ZCW1'), ascii('CREDIT'), ascii('-1')]],
    ['HEARTBEAT with a payload', [ascii('ZCW1'), ascii('HEARTBEAT'), ascii('x')]],
  ];
  for (const [what, parts] of GARBAGE) {
    test(`${what} is garbage`, () => {
      assert.throws(() => decodeWorkerMessage(parts, LIMITS), (error: unknown) => error instanceof WorkProtocolError && error.reason === 'garbage');
    });
  }

  const result = (job: string, meta: string, body: string, image?: Buffer): Buffer[] => [ascii('ZCW1'), ascii('RESULT'), ascii(job), ascii(meta), ascii(body), ...(image ? [image] : [])];
  const MALFORMED: Array<[string, Buffer[]]> = [
    ['a job that is not a number', result('x1', '{"processingMs":1}', '{}')],
    ['a job of 2^53', result(String(2 ** 53), '{"processingMs":1}', '{}')],
    ['a negative processing time', result('1', '{"processingMs":-1}', '{}')],
    ['a body that is not JSON', result('1', '{"processingMs":1}', '{"a":')],
    ['a body that is an array', result('1', '{"processingMs":1}', '[1]')],
    ['a body over 64 KiB', result('1', '{"processingMs":1}', `{"a":"${'x'.repeat(65 * 1024)}"}`)],
    ['an image that is not a JPEG', result('1', '{"processingMs":1}', '{}', Buffer.from('PNG'))],
    ['seven parts', [...result('1', '{"processingMs":1}', '{}', jpeg), jpeg]],
  ];
  for (const [what, parts] of MALFORMED) {
    test(`a RESULT with ${what} is a malformed result`, () => {
      assert.throws(() => decodeWorkerMessage(parts, LIMITS), (error: unknown) => error instanceof WorkProtocolError && error.reason === 'result');
    });
  }
});

describe('result message', () => {
  const result: WorkResult = {
    topic: 'cam1',
    header: { session: 7, seq: 3, captureUs: 1_795_000_000_000_000, processor: 'faces', worker: 'host-1', processingMs: 12.25, resultUs: 1_795_000_000_100_000 },
    body: Buffer.from('{"boxes":[{"x":1,"y":2,"w":3,"h":4,"label":"face"},{"x":"bad"}]}'),
  };

  test('round-trips, with and without an image; boxes are read from the body', () => {
    for (const image of [undefined, jpeg]) {
      const decoded = decodeResult(encodeResult({ ...result, image }), LIMITS);
      assert.equal(decoded.topic, 'cam1');
      assert.deepEqual(decoded.header, result.header);
      assert.deepEqual(decoded.body, result.body);
      assert.equal(decoded.image, image);
      assert.deepEqual(resultBoxes(decoded.bodyJson), [{ x: 1, y: 2, w: 3, h: 4, label: 'face' }]);
    }
  });

  test('malformed results are rejected with a reason', () => {
    const parts = encodeResult(result);
    const cases: Array<[Buffer[], string]> = [
      [parts.slice(0, 2), 'part-count'],
      [[ascii('-x'), ...parts.slice(1)], 'topic'],
      [[parts[0]!, ascii('{"kind":"result","v":2}'), parts[2]!], 'version'],
      [[parts[0]!, ascii('{"kind":"result","v":1,"seq":-1}'), parts[2]!], 'header-field'],
      [[...parts, Buffer.from('no jpeg')], 'jpeg-markers'],
    ];
    for (const [bad, reason] of cases) {
      assert.throws(() => decodeResult(bad, LIMITS), (error: unknown) => error instanceof ProtocolError && error.reason === reason, reason);
    }
  });
});

describe('result order', () => {
  test('every: a result waits for every lower seq out, then all leave in order', () => {
    const out: number[] = [];
    const order = new ResultOrder<{ seq: number }>({ mode: 'every', maxHeld: 2, maxHeldMs: 10 }, (r) => out.push(r.seq));
    for (const seq of [0, 1, 2, 3]) order.dispatched('s', seq);
    order.completed('s', { seq: 2 }, 0);
    order.completed('s', { seq: 3 }, 0);
    order.completed('s', { seq: 1 }, 1000);
    order.tick(5000);
    assert.deepEqual(out, [], 'nothing leaves while seq 0 is out, however long');
    order.completed('s', { seq: 0 }, 5000);
    assert.deepEqual(out, [0, 1, 2, 3]);
    assert.equal(order.late, 0);
  });

  test('live: the wait is bounded; a result that comes after a later one left is late', () => {
    const out: number[] = [];
    const order = new ResultOrder<{ seq: number }>({ mode: 'live', maxHeld: 16, maxHeldMs: 100 }, (r) => out.push(r.seq));
    for (const seq of [5, 6, 7]) order.dispatched('s', seq);
    order.completed('s', { seq: 7 }, 0);
    order.completed('s', { seq: 6 }, 10);
    assert.deepEqual(out, []);
    order.tick(100);
    assert.deepEqual(out, [6, 7], 'seq 5 held them up no longer than the window');
    order.completed('s', { seq: 5 }, 120);
    assert.deepEqual(out, [6, 7]);
    assert.equal(order.late, 1);
  });

  test('an abandoned frame (its worker died) holds nothing up', () => {
    const out: number[] = [];
    const order = new ResultOrder<{ seq: number }>({ mode: 'live', maxHeld: 16, maxHeldMs: 1000 }, (r) => out.push(r.seq));
    order.dispatched('s', 0);
    order.dispatched('s', 1);
    order.completed('s', { seq: 1 }, 0);
    order.abandon('s', 0, 0);
    assert.deepEqual(out, [1]);
  });
});
