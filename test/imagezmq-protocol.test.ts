import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProtocolError, type RejectReason } from '../common/errors';
import {
  decodeImagezmqMessage,
  encodeImagezmqArray,
  encodeImagezmqJpeg,
  IMAGEZMQ_FALLBACK_TOPIC,
  ImagezmqFramer,
  topicFromImagezmqMsg,
} from '../common/wire/imagezmq-protocol';
import { isValidTopic } from '../common/wire/protocol';
import { decodeJpeg, pixelAt, colorDistance, structuredJpeg } from './helpers/media';

const limits = { maxFrameBytes: 64 * 1024 };

describe('imagezmq wire format', () => {
  test('decode(encodeImagezmqJpeg(msg, jpeg)) gives back msg and the very JPEG buffer, sized from its SOF', () => {
    const jpeg = structuredJpeg(640, 480);
    const message = decodeImagezmqMessage(encodeImagezmqJpeg('pi-cam1', jpeg), limits);
    assert.equal(message.msg, 'pi-cam1');
    assert.equal(message.topic, 'pi-cam1');
    assert.deepEqual(message.payload, { kind: 'jpeg', jpeg, width: 640, height: 480 });
    assert.equal(message.payload.kind === 'jpeg' && message.payload.jpeg, jpeg);
  });

  test('decode(encodeImagezmqArray(...)) gives back colour and greyscale arrays with their shapes', () => {
    const colour = Buffer.alloc(4 * 3 * 3, 7);
    assert.deepEqual(decodeImagezmqMessage(encodeImagezmqArray('cam', colour, 4, 3, 3), limits).payload, { kind: 'array', pixels: colour, width: 4, height: 3, channels: 3 });
    const grey = Buffer.alloc(4 * 3, 9);
    assert.deepEqual(decodeImagezmqMessage(encodeImagezmqArray('cam', grey, 4, 3, 1), limits).payload, { kind: 'array', pixels: grey, width: 4, height: 3, channels: 1 });
  });

  test('metadata is what imagezmq sends: {"msg"} for send_jpg, {"msg","dtype","shape":[h,w,3]} for send_image', () => {
    assert.deepEqual(JSON.parse(encodeImagezmqJpeg('a b', structuredJpeg(2, 2))[0].toString()), { msg: 'a b' });
    assert.deepEqual(JSON.parse(encodeImagezmqArray('a', Buffer.alloc(24), 4, 2, 3)[0].toString()), { msg: 'a', dtype: 'uint8', shape: [2, 4, 3] });
    assert.deepEqual(JSON.parse(encodeImagezmqArray('a', Buffer.alloc(8), 4, 2, 1)[0].toString()), { msg: 'a', dtype: 'uint8', shape: [2, 4] });
  });

  const topics: Array<[string, string]> = [
    ['pi-cam1', 'pi-cam1'],
    ['jeff-pi garage door', 'jeff-pi'],
    ['rpi3|temp 45C', 'rpi3'],
    ['  padded  ', 'padded'],
    ['front porch/1', 'front'],
    ['cam/1:north', 'cam-1-north'],
    ['__hidden', 'hidden'],
    ['kamera-ü', 'kamera--'],
    ['', IMAGEZMQ_FALLBACK_TOPIC],
    ['!!!', IMAGEZMQ_FALLBACK_TOPIC],
    ['x'.repeat(100), 'x'.repeat(64)],
  ];
  for (const [msg, topic] of topics) {
    test(`msg ${JSON.stringify(msg.length > 20 ? `${msg.slice(0, 8)}...` : msg)} maps to topic "${topic.length > 20 ? `${topic.slice(0, 8)}...` : topic}"`, () => {
      assert.equal(topicFromImagezmqMsg(msg), topic);
      assert.ok(isValidTopic(topic));
    });
  }

  const meta = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const rejections: Array<[RejectReason, string, () => Buffer[]]> = [
    ['part-count', 'three parts', () => [...encodeImagezmqJpeg('a', structuredJpeg(2, 2)), Buffer.alloc(1)]],
    ['part-count', 'one part', () => [meta({ msg: 'a' })]],
    ['oversized', 'a payload past the limit', () => encodeImagezmqJpeg('a', structuredJpeg(2, 2, 0, 70_000))],
    ['oversized', 'an array past the limit', () => encodeImagezmqArray('a', Buffer.alloc(300 * 300), 300, 300, 1)],
    ['imagezmq-metadata', 'metadata that is not JSON', () => [Buffer.from('{msg:'), structuredJpeg(2, 2)]],
    ['imagezmq-metadata', 'metadata that is not UTF-8', () => [Buffer.from([0x7b, 0xff, 0x7d]), structuredJpeg(2, 2)]],
    ['imagezmq-metadata', 'a JSON array', () => [meta(['a']), structuredJpeg(2, 2)]],
    ['imagezmq-metadata', 'no msg', () => [meta({ text: 'a' }), structuredJpeg(2, 2)]],
    ['imagezmq-metadata', 'a numeric msg', () => [meta({ msg: 5 }), structuredJpeg(2, 2)]],
    ['imagezmq-metadata', 'dtype float32', () => [meta({ msg: 'a', dtype: 'float32', shape: [1, 1] }), Buffer.alloc(4)]],
    ['imagezmq-metadata', 'a shape of one dimension', () => [meta({ msg: 'a', dtype: 'uint8', shape: [4] }), Buffer.alloc(4)]],
    ['imagezmq-metadata', 'a zero dimension', () => [meta({ msg: 'a', dtype: 'uint8', shape: [0, 4] }), Buffer.alloc(0)]],
    ['imagezmq-metadata', 'a fractional dimension', () => [meta({ msg: 'a', dtype: 'uint8', shape: [1.5, 2] }), Buffer.alloc(3)]],
    ['imagezmq-metadata', 'four channels', () => [meta({ msg: 'a', dtype: 'uint8', shape: [1, 1, 4] }), Buffer.alloc(4)]],
    ['imagezmq-metadata', 'metadata longer than 64 KiB', () => [meta({ msg: 'a'.repeat(70_000) }), structuredJpeg(2, 2)]],
    ['array-size', 'an array one byte short of its shape', () => [meta({ msg: 'a', dtype: 'uint8', shape: [2, 2, 3] }), Buffer.alloc(11)]],
    ['array-size', 'an array longer than its shape', () => [meta({ msg: 'a', dtype: 'uint8', shape: [2, 2] }), Buffer.alloc(5)]],
    ['jpeg-markers', 'a JPEG with no end marker', () => encodeImagezmqJpeg('a', structuredJpeg(2, 2).subarray(0, -2))],
    ['jpeg-markers', 'SOI and EOI alone (no SOF)', () => encodeImagezmqJpeg('a', Buffer.from([0xff, 0xd8, 0xff, 0xd9]))],
  ];
  for (const [reason, what, parts] of rejections) {
    test(`decodeImagezmqMessage rejects ${what} as '${reason}'`, () => {
      assert.throws(
        () => decodeImagezmqMessage(parts(), limits),
        (error: unknown) => error instanceof ProtocolError && error.reason === reason && error.message.length > 0,
      );
    });
  }
});

describe('ImagezmqFramer', () => {
  test('numbers each topic from 0 in one session, with capture and send time unknown (0)', async () => {
    const framer = new ImagezmqFramer(limits, 80);
    const jpeg = structuredJpeg(32, 24);
    const frames = [];
    for (const msg of ['a', 'b cam', 'a', 'a', 'b']) frames.push(await framer.toFrame(encodeImagezmqJpeg(msg, jpeg)));
    assert.deepEqual(frames.map((f) => [f.topic, f.header.seq]), [['a', 0], ['b', 0], ['a', 1], ['a', 2], ['b', 1]]);
    for (const frame of frames) {
      assert.equal(frame.header.session, framer.session);
      assert.deepEqual([frame.header.captureUs, frame.header.sendUs, frame.header.quality, frame.header.width, frame.header.height], [0, 0, 0, 32, 24]);
      assert.equal(frame.jpeg, jpeg, 'a received JPEG is kept as it is');
    }
  });

  test('a malformed message takes no seq', async () => {
    const framer = new ImagezmqFramer(limits, 80);
    await framer.toFrame(encodeImagezmqJpeg('a', structuredJpeg(2, 2)));
    await assert.rejects(framer.toFrame([meta('a'), Buffer.alloc(1)]), ProtocolError);
    assert.equal((await framer.toFrame(encodeImagezmqJpeg('a', structuredJpeg(2, 2)))).header.seq, 1);
  });

  test('a BGR array of pure red is encoded once into a JPEG that decodes red, at the given size and quality', async () => {
    const width = 40, height = 30;
    const bgr = Buffer.alloc(width * height * 3);
    for (let i = 0; i < bgr.length; i += 3) bgr[i + 2] = 255;
    const frame = await new ImagezmqFramer(limits, 90).toFrame(encodeImagezmqArray('red', bgr, width, height, 3));
    assert.deepEqual([frame.header.width, frame.header.height, frame.header.quality], [width, height, 90]);
    const image = await decodeJpeg(frame.jpeg);
    assert.deepEqual([image.width, image.height], [width, height]);
    assert.ok(colorDistance(pixelAt(image, 20, 15), [255, 0, 0]) < 10, `got ${pixelAt(image, 20, 15).join(',')}`);
  });

  test('a greyscale array becomes a greyscale JPEG of the same grey', async () => {
    const frame = await new ImagezmqFramer(limits, 90).toFrame(encodeImagezmqArray('g', Buffer.alloc(16 * 8, 100), 16, 8, 1));
    const image = await decodeJpeg(frame.jpeg);
    assert.ok(colorDistance(pixelAt(image, 4, 4), [100, 100, 100]) < 5, `got ${pixelAt(image, 4, 4).join(',')}`);
  });
});

function meta(msg: string): Buffer {
  return Buffer.from(JSON.stringify({ msg, dtype: 'uint8', shape: [2, 2] }));
}
