import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BurstHighWaterMark } from '../hub/burst-high-water-mark';
import { encodeLinkReport, type LinkReport } from '../common/wire/link-report';
import { encodeFrame, type FrameHeader } from '../common/wire/protocol';
import { StreamCatalog } from '../common/web/stream-catalog';
import { ViewerLinks } from '../hub/viewer-links';
import { structuredJpeg } from './helpers/media';

const SESSION = 1_795_000_000_000_000;

function catalogWith(topic: string, session: number): StreamCatalog {
  const catalog = new StreamCatalog();
  const header: FrameHeader = { session, seq: 0, captureUs: 0, sendUs: 0, width: 32, height: 24, codec: 'jpeg', quality: 80 };
  const jpeg = structuredJpeg(32, 24);
  assert.ok(catalog.add({ topic, header, jpeg }, encodeFrame(topic, header, jpeg), 1));
  return catalog;
}

const report = (fields: Partial<LinkReport>): Buffer => encodeLinkReport({ receiver: 7, topic: 'cam1', session: SESSION, frames: 0, bytes: 0, dropped: 0, ...fields });

describe("the hub's view of its receivers' links (ViewerLinks)", () => {
  test('a receiver that gets a third of a stream is link-limited, with the frames it missed counted as skipped', () => {
    const links = new ViewerLinks(catalogWith('cam1', SESSION));
    links.onMessage(report({ frames: 10, bytes: 10_000, dropped: 20 }), 0);
    links.onMessage(report({ frames: 20, bytes: 20_000, dropped: 40 }), 1000);
    links.onMessage(report({ receiver: 8, frames: 30, dropped: 0 }), 0);
    links.onMessage(report({ receiver: 8, frames: 60, dropped: 0 }), 1000);
    const { streams, badReports } = links.summary(1000);
    assert.equal(badReports, 0);
    const cam1 = streams.cam1!;
    assert.equal(cam1.limited, true);
    assert.deepEqual(
      cam1.receivers.map((r) => [r.receiver, r.limited, r.skipped]),
      [
        [7, true, 40],
        [8, false, 0],
      ],
    );
    assert.equal(cam1.deliveredFps, 10);
    assert.equal(cam1.offeredFps, 30);
  });

  test("reports on another session (a camera that restarted) or on a stream the hub does not hold are ignored; malformed ones are counted", () => {
    const links = new ViewerLinks(catalogWith('cam1', SESSION));
    links.onMessage(report({ session: SESSION - 1, frames: 1 }), 0);
    links.onMessage(report({ session: SESSION - 1, frames: 2 }), 1000);
    links.onMessage(report({ topic: 'nobody', frames: 1 }), 0);
    links.onMessage(report({ topic: 'nobody', frames: 2 }), 1000);
    const bad = report({});
    bad.writeUInt8(9, 4);
    links.onMessage(bad, 1000);
    links.onMessage(Buffer.from('ZCLR'), 1000);
    assert.deepEqual(links.summary(1000), { streams: {}, badReports: 2 });
  });
});

describe('BurstHighWaterMark (--hwm auto)', () => {
  test('grows with the first frame of each new stream, and shrinks once a stream has sent nothing for the stall window', () => {
    const hwm = new BurstHighWaterMark(2000);
    assert.equal(hwm.frames, 1);
    assert.equal(hwm.onFrame('a', 0), undefined, 'one stream needs the 1 it has');
    assert.equal(hwm.onFrame('b', 10), 2);
    assert.equal(hwm.onFrame('c', 20), 4);
    assert.equal(hwm.onFrame('a', 40), undefined);
    // b and c stop; a goes on: past the window only a is live.
    assert.equal(hwm.onFrame('a', 2100), 1);
    assert.equal(hwm.frames, 1);
    assert.equal(hwm.onFrame('b', 2110), 2, 'a stream that comes back counts again at once');
  });
});
