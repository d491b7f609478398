import { createReadStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { INDEX_FILE, parseIndexLine, type IndexEntry } from '../../common/wire/recording-index';

export interface RetentionLimits {
  /** Keep the recording's files at or under this many bytes; undefined: no limit. */
  maxBytes?: number | undefined;
  /** Remove files whose newest frame arrived longer ago than this; undefined: no limit. */
  maxAgeMs?: number | undefined;
}

/** The index being rewritten without removed files' lines; renamed over it once complete. */
export const COMPACT_SUFFIX = '.compact.tmp';

interface FileRecord {
  bytes: number;
  /** The newest frame's receive time (the recorder's clock), epoch µs. */
  newestUs: number;
}

/**
 * --max-bytes and --max-age, for both formats: a table of the recording's files (this run's and
 * earlier runs', read from the index at start), oldest first. enforce() picks whole files to
 * remove, oldest first, rewrites the index without their lines (temp file, fsync, rename), and only
 * then deletes them, so the index never names a file that is gone.
 */
export class Retention {
  /** In the order files first appear in the index: oldest first. */
  private readonly files = new Map<string, FileRecord>();
  private totalBytes = 0;

  constructor(
    private readonly dir: string,
    private readonly limits: RetentionLimits,
  ) {}

  get active(): boolean {
    return this.limits.maxBytes !== undefined || this.limits.maxAgeMs !== undefined;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Reads an existing index into the table (throws RecordingError for a corrupt line). */
  async load(): Promise<void> {
    const path = join(this.dir, INDEX_FILE);
    let n = 0;
    const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
    try {
      for await (const line of lines) {
        n++;
        if (line.trim() !== '') this.add(parseIndexLine(line, `${path}:${n}`));
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  /** A frame now in the index. */
  add(entry: IndexEntry): void {
    const record = this.files.get(entry.file) ?? { bytes: 0, newestUs: 0 };
    // A JPEG file is the frame; a segment reaches to the end of its newest frame.
    const bytes = entry.offset === undefined ? entry.bytes : Math.max(record.bytes, entry.offset + entry.bytes);
    this.totalBytes += bytes - record.bytes;
    record.bytes = bytes;
    record.newestUs = Math.max(record.newestUs, entry.receiveUs);
    if (!this.files.has(entry.file)) this.files.set(entry.file, record);
  }

  /** The files over the limits, oldest first, never one still being written. */
  private victims(nowUs: number, isOpen: (file: string) => boolean): Set<string> {
    const { maxBytes, maxAgeMs } = this.limits;
    const cutoffUs = maxAgeMs === undefined ? -Infinity : nowUs - maxAgeMs * 1000;
    const victims = new Set<string>();
    let bytes = this.totalBytes;
    for (const [file, record] of this.files) {
      if (isOpen(file)) continue;
      const overBytes = maxBytes !== undefined && bytes > maxBytes;
      if (overBytes || record.newestUs < cutoffUs) {
        victims.add(file);
        bytes -= record.bytes;
      } else if (maxAgeMs === undefined) {
        break;
      }
    }
    return victims;
  }

  /**
   * Removes the files over the limits. `reopenIndex` is called after the index is replaced, so the
   * store appends to the new file. Resolves with the files removed.
   */
  async enforce(nowUs: number, isOpen: (file: string) => boolean, reopenIndex: () => Promise<void>): Promise<string[]> {
    const victims = this.victims(nowUs, isOpen);
    if (victims.size === 0) return [];
    await this.compactIndex(victims);
    await reopenIndex();
    for (const file of victims) {
      await rm(join(this.dir, file), { force: true });
      this.totalBytes -= this.files.get(file)!.bytes;
      this.files.delete(file);
    }
    return [...victims];
  }

  private async compactIndex(victims: ReadonlySet<string>): Promise<void> {
    const path = join(this.dir, INDEX_FILE);
    const temp = `${path}${COMPACT_SUFFIX}`;
    const out = await open(temp, 'w');
    try {
      const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
      let chunk: string[] = [];
      for await (const line of lines) {
        if (line === '') continue;
        // Lines are the store's own: "file" is found without parsing every line in full.
        const file = /"file":"((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
        if (file !== undefined && victims.has(JSON.parse(`"${file}"`) as string)) continue;
        chunk.push(line);
        if (chunk.length >= 4096) {
          await out.write(`${chunk.join('\n')}\n`);
          chunk = [];
        }
      }
      if (chunk.length) await out.write(`${chunk.join('\n')}\n`);
      await out.sync();
    } catch (error) {
      await out.close();
      await rm(temp, { force: true });
      throw error;
    }
    await out.close();
    await rename(temp, path);
  }
}
