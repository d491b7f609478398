import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { OutputDirError, SaveError } from '../common/errors';
import type { Frame } from '../common/wire/protocol';
import { FrameStore } from '../receiver/frame-store';
import { listSavedFiles, readIndex } from './helpers/recordings';

const frameOf = (topic: string, seq: number, bytes = 100, session = 1_795_000_000_000_000): Frame => ({
  topic,
  header: { session, seq, captureUs: 1_000 + seq, sendUs: 2_000 + seq, width: 64, height: 48, codec: 'jpeg', quality: 80 },
  jpeg: Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(bytes - 5, seq % 256), Buffer.from([0xff, 0xd9])]),
});

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zc-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('FrameStore', () => {
  test('save() writes the JPEG byte for byte and indexes it', async (t) => {
    const dir = await tempDir(t);
    const store = await FrameStore.open({ dir, fsync: true });
    const frame = frameOf('cam1', 3);
    const entry = await store.save(frame, 5_000);
    assert.ok(entry);
    await store.close();
    await store.close();
    assert.deepEqual(await readFile(join(dir, entry.file)), frame.jpeg);
    assert.deepEqual(await readIndex(dir), [
      { topic: 'cam1', session: frame.header.session, seq: 3, captureUs: 1_003, receiveUs: 5_000, bytes: 100, width: 64, height: 48, file: entry.file },
    ]);
  });

  test('file names sort by stream, then sender session, then sequence number', async (t) => {
    const dir = await tempDir(t);
    const store = await FrameStore.open({ dir, fsync: false });
    const saved: string[] = [];
    for (const [topic, session, seq] of [['b', 2, 0], ['a', 2, 10], ['a', 1, 99], ['a', 2, 9], ['b', 1, 5]] as const) {
      saved.push((await store.save(frameOf(topic, seq, 100, 1_795_000_000_000_000 + session), 1))!.file);
    }
    await store.close();
    assert.deepEqual([...saved].sort(), [saved[2], saved[3], saved[1], saved[4], saved[0]]);
  });

  test('a frame already on disk (same stream, session and seq) is not overwritten or indexed twice', async (t) => {
    const dir = await tempDir(t);
    const store = await FrameStore.open({ dir, fsync: false });
    const first = frameOf('cam1', 7, 100);
    const repeat = frameOf('cam1', 7, 300);
    const entry = await store.save(first, 1);
    assert.ok(entry);
    assert.equal(await store.save(repeat, 2), undefined);
    await store.close();
    assert.deepEqual(await readFile(join(dir, entry.file)), first.jpeg);
    assert.equal((await readIndex(dir)).length, 1);
  });

  test('with maxFiles, only the newest N frames stay on disk', async (t) => {
    const dir = await tempDir(t);
    const store = await FrameStore.open({ dir, fsync: false, maxFiles: 3 });
    const files: string[] = [];
    for (let seq = 0; seq < 7; seq++) files.push((await store.save(frameOf('cam1', seq), 1))!.file);
    await store.close();
    assert.deepEqual(await listSavedFiles(dir), files.slice(-3));
  });

  test('an output directory that cannot be created fails at open with OutputDirError', async (t) => {
    const dir = await tempDir(t);
    const aFile = join(dir, 'plain-file');
    await writeFile(aFile, 'x');
    for (const bad of [join(aFile, 'frames'), '/proc/zerocam-cannot-be-here']) {
      await assert.rejects(FrameStore.open({ dir: bad, fsync: false }), (error: unknown) => {
        assert.ok(error instanceof OutputDirError);
        assert.match(error.message, /^cannot write to output directory /);
        return true;
      });
    }
  });

  test('temp files left by a crash are removed at open', async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, 'cam1'));
    await writeFile(join(dir, 'cam1', '.1-5.tmp'), 'half a frame');
    await (await FrameStore.open({ dir, fsync: false })).close();
    assert.deepEqual(await listSavedFiles(dir), []);
  });

  test('a full disk fails save() with SaveError, leaves no partial file, and every indexed frame is complete', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'zc-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', dir], { stdio: 'ignore' });
    } catch {
      await rm(dir, { recursive: true });
      t.skip('needs permission to mount a small tmpfs (root)');
      return;
    }
    t.after(async () => {
      execFileSync('umount', [dir]);
      await rm(dir, { recursive: true });
    });
    const store = await FrameStore.open({ dir, fsync: true });
    const sent: Frame[] = [];
    let failure: unknown;
    for (let seq = 0; seq < 50 && failure === undefined; seq++) {
      const frame = frameOf('cam1', seq, 10_000);
      sent.push(frame);
      await store.save(frame, 1).catch((error: unknown) => (failure = error));
    }
    await store.close();
    assert.ok(failure instanceof SaveError, `expected a SaveError, got ${String(failure)}`);
    assert.match(failure.message, /disk full/);

    const index = await readIndex(dir).catch(() => []);
    const files = await listSavedFiles(dir);
    assert.ok(index.length > 0, 'some frames fit before the disk filled');
    assert.deepEqual(files, index.map((e) => e.file).sort(), 'only indexed frames are on disk: no partial or temp file');
    for (const entry of index) {
      assert.equal((await stat(join(dir, entry.file))).size, entry.bytes);
      assert.deepEqual(await readFile(join(dir, entry.file)), sent[entry.seq]!.jpeg);
    }
  });
});
