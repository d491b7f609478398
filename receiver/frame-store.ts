import { open, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError, OutputDirError, SaveError, UsageError } from '../common/errors';
import { formatIndexLine, INDEX_FILE, type IndexEntry } from '../common/wire/recording-index';
import type { Frame } from '../common/wire/protocol';
import type { ClockEstimate } from '../common/stats/clock-offset';
import { DEFAULTS, type RecordFormat } from '../common/defaults';
import { makeDirectory } from './make-directory';
import type { FrameLayout } from './record/frame-layout';
import { JpegLayout } from './record/jpeg-layout';
import { COMPACT_SUFFIX, Retention } from './record/retention';
import { SegmentLayout } from './record/segment-layout';

export type { IndexEntry } from '../common/wire/recording-index';

export interface FrameStoreOptions {
  dir: string;
  /** jpeg (default): a file per frame; segments: Matroska files of --segment-seconds per stream. */
  format?: RecordFormat;
  segmentSeconds?: number;
  /** --format jpeg: keep only the newest N frames saved by this run (a ring); undefined keeps all. */
  maxFiles?: number | undefined;
  /** --max-bytes: the recording's files (every run's) stay at or under this. */
  maxBytes?: number | undefined;
  /** --max-age: files whose newest frame is older than this are removed. */
  maxAgeMs?: number | undefined;
  /** fsync frames before they are indexed, so "saved" survives a power cut. */
  fsync: boolean;
  /** Retention is checked after a commit at most this often (default DEFAULTS.retentionCheckMs). */
  retentionCheckMs?: number;
}

/**
 * A recording directory's one writer. Frames are written (write()) and then committed (commit()):
 * one commit makes every frame written since the last one durable (fsync, or one fsync per open
 * segment), then appends their index lines, fsyncs the index and applies retention. A frame is
 * saved, and may be reported or acknowledged as saved, only once the commit that covers it resolves.
 */
export class FrameStore {
  private readonly ring: string[] = [];
  private pending: IndexEntry[] = [];
  private indexLineOpen = false;
  private closed = false;
  private lastRetentionMs = -Infinity;
  /** fsync calls made so far (data files and the index). */
  fsyncs = 0;

  private constructor(
    private readonly options: FrameStoreOptions,
    private readonly layout: FrameLayout,
    private index: FileHandle,
    private readonly retention: Retention,
  ) {}

  /** Creates the directory if needed and proves it writable now, not at the first frame. */
  static async open(options: FrameStoreOptions): Promise<FrameStore> {
    const { dir } = options;
    let index: FileHandle | undefined;
    try {
      await makeDirectory(dir);
      const probe = join(dir, `.zerocam-write-test-${process.pid}`);
      await (await open(probe, 'w')).close();
      await rm(probe);
      await dropTornIndexLine(join(dir, INDEX_FILE));
      // A compaction a crash interrupted: the index it was replacing still stands.
      await rm(join(dir, `${INDEX_FILE}${COMPACT_SUFFIX}`), { force: true });
      const layout: FrameLayout =
        options.format === 'segments' ? new SegmentLayout(dir, (options.segmentSeconds ?? DEFAULTS.segmentSeconds) * 1e6) : await JpegLayout.open(dir);
      index = await open(join(dir, INDEX_FILE), 'a');
      const retention = new Retention(dir, { maxBytes: options.maxBytes, maxAgeMs: options.maxAgeMs });
      if (retention.active) await retention.load();
      return new FrameStore(options, layout, index, retention);
    } catch (error) {
      await index?.close();
      if (error instanceof UsageError) throw error;
      throw new OutputDirError(`cannot write to output directory ${dir}: ${describeError(error)}`);
    }
  }

  get dir(): string {
    return this.options.dir;
  }

  /** A stream the receiver no longer tracks: its directory is checked again if it comes back. */
  forget(topic: string): void {
    this.layout.forget(topic);
  }

  /** Frames written and not yet committed. */
  get uncommitted(): number {
    return this.pending.length;
  }

  /**
   * Writes the frame (not yet durable). False when this stream, session and seq is already on disk
   * (--format jpeg): a saved file is never overwritten and never indexed twice.
   */
  async write(frame: Frame, receiveUs: number, clock?: ClockEstimate): Promise<boolean> {
    let entry: IndexEntry | undefined;
    try {
      entry = await this.layout.write(frame, receiveUs);
    } catch (error) {
      throw saveError(`${frame.topic} seq ${frame.header.seq}`, this.options.dir, error);
    }
    if (entry) this.pending.push(withLatency(entry, frame, clock));
    return entry !== undefined;
  }

  /** Makes every frame written so far durable and indexes it; resolves with their index entries. */
  async commit(): Promise<IndexEntry[]> {
    const batch = this.pending;
    this.pending = [];
    const { fsync, dir } = this.options;
    try {
      this.fsyncs += await this.layout.sync(fsync);
    } catch (error) {
      await this.layout.discard();
      throw saveError(`${batch.length} frame(s)`, dir, error);
    }
    if (batch.length === 0) return batch;
    try {
      // After a failed append the last line may be partial; start afresh so it stays one bad line.
      const prefix = this.indexLineOpen ? '\n' : '';
      this.indexLineOpen = true;
      await this.index.appendFile(prefix + batch.map(formatIndexLine).join(''));
      this.indexLineOpen = false;
      if (fsync) {
        await this.index.sync();
        this.fsyncs++;
      }
    } catch (error) {
      // Unindexed means unsaved: take JPEG files back out so the index and the directory agree.
      if (this.options.format !== 'segments') for (const entry of batch) await rm(join(dir, entry.file), { force: true });
      throw saveError(`${batch.length} frame(s)`, dir, error);
    }
    for (const entry of batch) this.retention.add(entry);
    await this.applyRetention();
    if (this.options.format !== 'segments') await this.rotate(batch);
    return batch;
  }

  /** write() and commit() one frame: resolves with its index line, or undefined for a frame already saved. */
  async save(frame: Frame, receiveUs: number, clock?: ClockEstimate): Promise<IndexEntry | undefined> {
    const written = await this.write(frame, receiveUs, clock);
    const committed = await this.commit();
    return written ? committed.at(-1) : undefined;
  }

  /** At most once per DEFAULTS.retentionCheckMs: a whole file or more leaves each time, and the index is rewritten once. */
  private async applyRetention(): Promise<void> {
    if (!this.retention.active) return;
    const now = performance.now();
    if (now - this.lastRetentionMs < (this.options.retentionCheckMs ?? DEFAULTS.retentionCheckMs)) return;
    this.lastRetentionMs = now;
    try {
      await this.retention.enforce(Date.now() * 1000, (file) => this.layout.isOpen(file), () => this.reopenIndex());
    } catch (error) {
      throw new SaveError(`could not apply retention in ${this.options.dir}: ${describeError(error)}`);
    }
  }

  private async reopenIndex(): Promise<void> {
    const fresh = await open(join(this.options.dir, INDEX_FILE), 'a');
    const old = this.index;
    this.index = fresh;
    await old.close();
  }

  private async rotate(batch: readonly IndexEntry[]): Promise<void> {
    const { maxFiles } = this.options;
    if (maxFiles === undefined) return;
    for (const entry of batch) this.ring.push(entry.file);
    while (this.ring.length > maxFiles) {
      const oldest = this.ring.shift()!;
      await rm(join(this.options.dir, oldest), { force: true });
    }
  }

  /** Commits what is written, finishes open segments. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.pending.length) await this.commit();
    } finally {
      try {
        await this.layout.close(this.options.fsync);
      } finally {
        await this.index.close();
      }
    }
  }
}

function saveError(what: string, dir: string, error: unknown): SaveError {
  const code = (error as { code?: string }).code;
  const why = code === 'ENOSPC' ? 'disk full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : describeError(error);
  return new SaveError(`could not save ${what} in ${dir}: ${why}; nothing unsaved was indexed`);
}

/** A last index line without its newline is a write a crash cut short: never a saved frame, so it goes. */
async function dropTornIndexLine(path: string): Promise<void> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return;
  }
  if (size === 0) return;
  const handle = await open(path, 'r');
  try {
    const tail = Buffer.alloc(Math.min(size, 64 * 1024));
    await handle.read(tail, 0, tail.length, size - tail.length);
    if (tail[tail.length - 1] === 0x0a) return;
    const newline = tail.lastIndexOf(0x0a);
    if (newline < 0 && tail.length < size) return; // a line over 64 KiB is no index line; leave it for a reader to report
    await truncate(path, size - tail.length + newline + 1);
  } finally {
    await handle.close();
  }
}

/**
 * The index entry with the frame's latency corrected by the sender's clock offset, when one was
 * measured (docs/protocol.md, "Clock offsets"); without one the entry is as it always was, and its
 * latency is receiveUs − captureUs across two clocks, uncorrected.
 */
function withLatency(entry: IndexEntry, frame: Frame, clock: ClockEstimate | undefined): IndexEntry {
  const { captureUs, sendUs, replay } = frame.header;
  const sinceUs = replay ? sendUs : captureUs;
  if (sinceUs === 0 || !clock) return entry;
  const clockOffsetUs = Math.round(clock.offsetUs);
  return { ...entry, latencyUs: entry.receiveUs - sinceUs + clockOffsetUs, latencyCorrected: true, clockOffsetUs, clockUncertaintyUs: Math.round(clock.uncertaintyUs) };
}
