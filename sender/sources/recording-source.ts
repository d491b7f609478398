import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../../common/errors';
import { frameTimeUs, INDEX_FILE, parseIndex, RecordingError, type IndexEntry } from '../../common/wire/recording-index';

export interface RecordingSelection {
  /** Only these streams; empty: all. */
  topics: readonly string[];
  /** Frames from this time on (frame time), inclusive. */
  from?: TimeBound | undefined;
  /** Frames before this time, exclusive. */
  to?: TimeBound | undefined;
}

/** One frame of a recording, ready to go back on the wire. */
export interface RecordedFrame {
  entry: IndexEntry;
  /** The JPEG exactly as recorded. */
  jpeg: Buffer;
}

/** How --from and --to are given: an instant (epoch µs), or an offset from the recording's first frame. */
export type TimeBound = { atUs: number } | { afterStartMs: number };

const OPEN_FILES = 16;

/**
 * A recording directory (either --format) read back for replay: its index, in frame-time order
 * (capture time, or receive time for frames without one), each frame read straight from its JPEG
 * file or from its place in a segment. Everything the index names is checked at open (every file is
 * there and long enough), so a broken recording fails with one line before anything is sent.
 */
export class RecordingSource {
  private readonly handles = new Map<string, FileHandle>();
  private closed = false;

  private constructor(
    readonly dir: string,
    /** The selected frames, oldest first. */
    readonly frames: readonly IndexEntry[],
  ) {}

  static async open(dir: string, selection: RecordingSelection): Promise<RecordingSource> {
    const path = join(dir, INDEX_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new RecordingError(
        code === 'ENOENT' || code === 'ENOTDIR' ? `${dir} is not a recording: it has no ${INDEX_FILE}` : `cannot read ${path}: ${describeError(error)}`,
      );
    }
    const all = parseIndex(text, path).entries;
    const startUs = all.reduce((min, e) => Math.min(min, frameTimeUs(e)), Infinity);
    const resolve = (bound: TimeBound | undefined): number | undefined =>
      bound === undefined ? undefined : 'atUs' in bound ? bound.atUs : startUs + bound.afterStartMs * 1000;
    const fromUs = resolve(selection.from);
    const toUs = resolve(selection.to);
    const topics = new Set(selection.topics);
    // A stable sort: frames of one time keep their order in the index.
    const frames = all
      .filter((e) => topics.size === 0 || topics.has(e.topic))
      .filter((e) => (fromUs === undefined || frameTimeUs(e) >= fromUs) && (toUs === undefined || frameTimeUs(e) < toUs))
      .sort((a, b) => frameTimeUs(a) - frameTimeUs(b));
    if (all.length === 0) throw new RecordingError(`${dir} is not a recording: ${INDEX_FILE} lists no frames`);
    if (frames.length === 0) throw new RecordingError(`no frames of ${dir} match --topic, --from and --to`);
    await checkFiles(dir, frames);
    return new RecordingSource(dir, frames);
  }

  /** The frame's JPEG, read from disk; RecordingError if the bytes there are not a JPEG. */
  async read(entry: IndexEntry): Promise<Buffer> {
    const handle = await this.handle(entry.file);
    const jpeg = Buffer.allocUnsafe(entry.bytes);
    const { bytesRead } = await handle.read(jpeg, 0, entry.bytes, entry.offset ?? 0);
    const n = jpeg.length;
    if (bytesRead !== n || jpeg[0] !== 0xff || jpeg[1] !== 0xd8 || jpeg[n - 2] !== 0xff || jpeg[n - 1] !== 0xd9) {
      throw new RecordingError(`${join(this.dir, entry.file)}${entry.offset === undefined ? '' : ` at byte ${entry.offset}`} does not hold the JPEG its index line names`);
    }
    return jpeg;
  }

  private async handle(file: string): Promise<FileHandle> {
    const open_ = this.handles.get(file);
    if (open_) return open_;
    if (this.handles.size >= OPEN_FILES) {
      const [oldest, handle] = this.handles.entries().next().value as [string, FileHandle];
      this.handles.delete(oldest);
      await handle.close();
    }
    let handle: FileHandle;
    try {
      handle = await open(join(this.dir, file), 'r');
    } catch (error) {
      throw new RecordingError(`${join(this.dir, file)}, named in ${INDEX_FILE}, cannot be read: ${describeError(error)}`);
    }
    this.handles.set(file, handle);
    return handle;
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
  }
}

/** Every file the frames name exists and reaches past each frame's bytes. */
async function checkFiles(dir: string, frames: readonly IndexEntry[]): Promise<void> {
  const needed = new Map<string, number>();
  for (const e of frames) needed.set(e.file, Math.max(needed.get(e.file) ?? 0, (e.offset ?? 0) + e.bytes));
  for (const [file, bytes] of needed) {
    let size: number;
    try {
      size = (await stat(join(dir, file))).size;
    } catch {
      throw new RecordingError(`${join(dir, file)} is missing: ${INDEX_FILE} names it`);
    }
    if (size < bytes) throw new RecordingError(`${join(dir, file)} is truncated: ${size} bytes, but ${INDEX_FILE} names a frame ending at byte ${bytes}`);
  }
}
