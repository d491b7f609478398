import { access, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, OutputDirError, SaveError } from '../common/errors';
import { makeDirectory } from '../common/make-directory';
import type { Frame } from '../common/protocol';

export interface FrameStoreOptions {
  dir: string;
  /** Keep only the newest N frames saved by this run (a ring); undefined keeps all. */
  maxFiles?: number | undefined;
  /** fsync each JPEG before it is renamed into place, so "saved" survives a power cut. */
  fsync: boolean;
}

/** One line of index.jsonl. */
export interface IndexEntry {
  topic: string;
  session: number;
  seq: number;
  captureUs: number;
  receiveUs: number;
  bytes: number;
  width: number;
  height: number;
  /** Relative to the output directory. */
  file: string;
}

const INDEX_FILE = 'index.jsonl';
const TEMP_SUFFIX = '.tmp';

/**
 * Saves frames exactly as received, one JPEG per file, named so that a plain sort orders them
 * by stream, then sender session, then sequence number: TOPIC/SESSION-SEQ.jpg.
 * Each file is written to a temp name and renamed into place, so a file that exists is complete;
 * its index line is appended only after the rename.
 */
export class FrameStore {
  private readonly topicDirs = new Set<string>();
  private readonly ring: string[] = [];
  private indexLineOpen = false;
  private closed = false;

  private constructor(
    private readonly options: FrameStoreOptions,
    private readonly index: FileHandle,
  ) {}

  /** Creates the directory if needed and proves it writable now, not at the first frame. */
  static async open(options: FrameStoreOptions): Promise<FrameStore> {
    const { dir } = options;
    try {
      await makeDirectory(dir);
      const probe = join(dir, `.zerocam-write-test-${process.pid}`);
      await (await open(probe, 'w')).close();
      await rm(probe);
      await removeStaleTempFiles(dir);
      return new FrameStore(options, await open(join(dir, INDEX_FILE), 'a'));
    } catch (error) {
      throw new OutputDirError(`cannot write to output directory ${dir}: ${describeError(error)}`);
    }
  }

  get dir(): string {
    return this.options.dir;
  }

  /** A stream the receiver no longer tracks: its directory is checked again if it comes back. */
  forget(topic: string): void {
    this.topicDirs.delete(topic);
  }

  /**
   * Resolves with the new index line, or undefined when this stream, session and seq is already on
   * disk: a saved file is never overwritten and never indexed twice (the first copy stands).
   */
  async save(frame: Frame, receiveUs: number): Promise<IndexEntry | undefined> {
    const { topic, header, jpeg } = frame;
    const file = `${topic}/${header.session}-${String(header.seq).padStart(10, '0')}.jpg`;
    const path = join(this.options.dir, file);
    // The store is its directory's one writer, so a file found here cannot appear between this check and the rename.
    if (await exists(path)) return undefined;
    const temp = join(this.options.dir, topic, `.${header.session}-${header.seq}${TEMP_SUFFIX}`);
    try {
      if (!this.topicDirs.has(topic)) {
        await makeDirectory(join(this.options.dir, topic));
        this.topicDirs.add(topic);
      }
      const handle = await open(temp, 'w');
      try {
        await handle.writeFile(jpeg);
        if (this.options.fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw saveError(file, this.options.dir, error);
    }

    const entry: IndexEntry = {
      topic,
      session: header.session,
      seq: header.seq,
      captureUs: header.captureUs,
      receiveUs,
      bytes: jpeg.length,
      width: header.width,
      height: header.height,
      file,
    };
    try {
      // After a failed append the last line may be partial; start afresh so it stays one bad line.
      const prefix = this.indexLineOpen ? '\n' : '';
      this.indexLineOpen = true;
      await this.index.appendFile(`${prefix}${JSON.stringify(entry)}\n`);
      this.indexLineOpen = false;
    } catch (error) {
      // Unindexed means unsaved: take the file back out so the index and the directory agree.
      await rm(path, { force: true });
      throw saveError(file, this.options.dir, error);
    }
    await this.rotate(file);
    return entry;
  }

  private async rotate(file: string): Promise<void> {
    const { maxFiles } = this.options;
    if (maxFiles === undefined) return;
    this.ring.push(file);
    while (this.ring.length > maxFiles) {
      const oldest = this.ring.shift()!;
      await rm(join(this.options.dir, oldest), { force: true });
    }
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.index.close();
  }
}

function saveError(file: string, dir: string, error: unknown): SaveError {
  const code = (error as { code?: string }).code;
  const why = code === 'ENOSPC' ? 'disk full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : describeError(error);
  return new SaveError(`could not save ${file} in ${dir}: ${why}; no partial file was left`);
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
