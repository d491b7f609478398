import { access, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame } from '../../common/wire/protocol';
import type { IndexEntry } from '../../common/wire/recording-index';
import { makeDirectory } from '../make-directory';
import type { FrameLayout } from './frame-layout';

const TEMP_SUFFIX = '.tmp';

interface PendingFile {
  handle: FileHandle | undefined;
  temp: string;
  path: string;
}

/**
 * --format jpeg: one file per frame, TOPIC/SESSION-SEQ.jpg, so a plain sort orders them by stream,
 * sender session and sequence number. Each is written to a temp name; sync() fsyncs every file of
 * the batch (in parallel, so the file system can commit them together) and renames them into place,
 * so a file that exists under its name is complete.
 */
export class JpegLayout implements FrameLayout {
  private readonly topicDirs = new Set<string>();
  private pending: PendingFile[] = [];
  private readonly pendingPaths = new Set<string>();

  private constructor(private readonly dir: string) {}

  static async open(dir: string): Promise<JpegLayout> {
    await removeStaleTempFiles(dir);
    return new JpegLayout(dir);
  }

  async write(frame: Frame, receiveUs: number): Promise<IndexEntry | undefined> {
    const { topic, header, jpeg } = frame;
    const file = `${topic}/${header.session}-${String(header.seq).padStart(10, '0')}.jpg`;
    const path = join(this.dir, file);
    // The store is its directory's one writer, so a file found here cannot appear before the rename.
    if (this.pendingPaths.has(path) || (await exists(path))) return undefined;
    if (!this.topicDirs.has(topic)) {
      await makeDirectory(join(this.dir, topic));
      this.topicDirs.add(topic);
    }
    const pending: PendingFile = { handle: undefined, temp: join(this.dir, topic, `.${header.session}-${header.seq}${TEMP_SUFFIX}`), path };
    try {
      pending.handle = await open(pending.temp, 'w');
      await pending.handle.writeFile(jpeg);
    } catch (error) {
      await closeOnce(pending).catch(() => undefined);
      await rm(pending.temp, { force: true });
      throw error;
    }
    this.pending.push(pending);
    this.pendingPaths.add(path);
    const { session, seq, captureUs, width, height } = header;
    return { topic, session, seq, captureUs, receiveUs, bytes: jpeg.length, width, height, file };
  }

  async sync(fsync: boolean): Promise<number> {
    const batch = this.pending;
    try {
      if (fsync) await Promise.all(batch.map((p) => p.handle!.sync()));
      await Promise.all(batch.map((p) => closeOnce(p)));
      for (const p of batch) await rename(p.temp, p.path);
    } catch (error) {
      await this.discard();
      throw error;
    }
    this.pending = [];
    this.pendingPaths.clear();
    return fsync ? batch.length : 0;
  }

  async discard(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    this.pendingPaths.clear();
    for (const p of batch) {
      await closeOnce(p).catch(() => undefined);
      await rm(p.temp, { force: true });
    }
  }

  forget(topic: string): void {
    this.topicDirs.delete(topic);
  }

  isOpen(): boolean {
    return false;
  }

  async close(): Promise<void> {
    await this.discard();
  }
}

async function closeOnce(pending: PendingFile): Promise<void> {
  const handle = pending.handle;
  pending.handle = undefined;
  await handle?.close();
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Temp files left by a crash are incomplete by definition. */
async function removeStaleTempFiles(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const name of await readdir(join(dir, entry.name))) {
      if (name.startsWith('.') && name.endsWith(TEMP_SUFFIX)) await rm(join(dir, entry.name, name), { force: true });
    }
  }
}
