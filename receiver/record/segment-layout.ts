import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Frame } from '../../common/wire/protocol';
import { frameTimeUs, type IndexEntry } from '../../common/wire/recording-index';
import { makeDirectory } from '../make-directory';
import type { FrameLayout } from './frame-layout';
import { clusterHead, durationValue, segmentHead, segmentSize } from './matroska';

interface Segment {
  file: string;
  handle: FileHandle;
  session: number;
  width: number;
  height: number;
  /** Epoch µs of the segment's time 0: its first frame's capture time. */
  startUs: number;
  /** Bytes written so far: where the next cluster goes. */
  size: number;
  frames: number;
  lastPtsUs: number;
  previousPtsUs: number;
  segmentSizeOffset: number;
  segmentDataOffset: number;
  durationValueOffset: number;
  /** Written to since its last fsync. */
  dirty: boolean;
  /** performance.now() of its newest frame: a stream that went quiet has its segment finished. */
  lastWriteMs: number;
}

/**
 * --format segments: each stream as consecutive Matroska files of MJPEG, TOPIC/SESSION-FIRSTSEQ.mkv,
 * each covering up to --segment-seconds of capture time. The JPEG bytes go into the file unchanged,
 * each frame at its capture time relative to the segment's first frame (µs timestamps), so variable
 * frame rates and skipped frames stay true to time. A new segment starts when the time is up, the
 * sender's session or the frame size changes, or capture time runs backwards.
 *
 * Frames are appended with positioned writes straight to the file (no buffering in this process),
 * so after sync() every frame written before it is on disk, whole, in one cluster of its own; a
 * crash leaves at most a partial last cluster, after the last indexed frame, which players ignore.
 */
export class SegmentLayout implements FrameLayout {
  private readonly open = new Map<string, Segment>();
  /** Segments finished since the last sync: fsynced by it, then closed. */
  private finishing: Segment[] = [];
  private readonly topicDirs = new Set<string>();
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly segmentUs: number,
  ) {}

  async write(frame: Frame, receiveUs: number): Promise<IndexEntry | undefined> {
    const { topic, header, jpeg } = frame;
    const timeUs = frameTimeUs({ captureUs: header.captureUs, receiveUs });
    let segment = this.open.get(topic);
    if (
      segment &&
      (segment.session !== header.session ||
        segment.width !== header.width ||
        segment.height !== header.height ||
        timeUs - segment.startUs >= this.segmentUs ||
        timeUs - segment.startUs < segment.lastPtsUs)
    ) {
      await this.finish(segment);
      segment = undefined;
    }
    segment ??= await this.start(frame, timeUs);
    const ptsUs = timeUs - segment.startUs;
    const head = clusterHead(ptsUs, jpeg.length);
    const offset = segment.size + head.length;
    const position = segment.size;
    // Counted as written before the write, so a partial write is never overwritten by the next frame.
    segment.size += head.length + jpeg.length;
    segment.dirty = true;
    segment.lastWriteMs = performance.now();
    try {
      await segment.handle.writev([head, jpeg], position);
    } catch (error) {
      // A partial cluster ends this file (its size stays "unknown"): the next frame starts a new one.
      this.open.delete(topic);
      this.finishing.push(segment);
      throw error;
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
      file: segment.file,
      offset,
      frame: segment.frames++,
      ptsUs,
    };
    segment.previousPtsUs = segment.lastPtsUs;
    segment.lastPtsUs = ptsUs;
    return entry;
  }

  private async start(frame: Frame, startUs: number): Promise<Segment> {
    const { topic, header } = frame;
    if (!this.topicDirs.has(topic)) {
      await makeDirectory(join(this.dir, topic));
      this.topicDirs.add(topic);
    }
    const base = `${topic}/${header.session}-${String(header.seq).padStart(10, '0')}`;
    let file = `${base}.mkv`;
    let handle: FileHandle | undefined;
    for (let n = 1; !handle; n++) {
      try {
        handle = await open(join(this.dir, file), 'wx');
      } catch (error) {
        // The same sender session and first frame seen again (a replayed REQ frame, a restart): never overwrite.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        file = `${base}-${n}.mkv`;
      }
    }
    const head = segmentHead(header.width, header.height, startUs, `${topic} session ${header.session}`);
    const segment: Segment = {
      file,
      handle,
      session: header.session,
      width: header.width,
      height: header.height,
      startUs,
      size: head.bytes.length,
      frames: 0,
      lastPtsUs: 0,
      previousPtsUs: 0,
      segmentSizeOffset: head.segmentSizeOffset,
      segmentDataOffset: head.segmentDataOffset,
      durationValueOffset: head.durationValueOffset,
      dirty: true,
      lastWriteMs: performance.now(),
    };
    this.open.set(topic, segment);
    try {
      await handle.write(head.bytes, 0, head.bytes.length, 0);
    } catch (error) {
      this.open.delete(topic);
      await handle.close();
      throw error;
    }
    return segment;
  }

  /** Gives the segment its final size and duration; the next sync fsyncs and closes it. */
  private async finish(segment: Segment): Promise<void> {
    this.open.delete(segment.file.slice(0, segment.file.indexOf('/')));
    this.finishing.push(segment);
    // The last frame lasts as long as the gap before it: players then show it for a frame's time.
    const durationUs = segment.lastPtsUs + Math.max(1, segment.lastPtsUs - segment.previousPtsUs);
    await segment.handle.write(segmentSize(segment.size, segment.segmentDataOffset), 0, 8, segment.segmentSizeOffset);
    await segment.handle.write(durationValue(durationUs), 0, 8, segment.durationValueOffset);
  }

  async sync(fsync: boolean): Promise<number> {
    // A stream silent for a whole segment's time (a camera nobody watches, a sender gone) gets its
    // file finished now, not at its next frame: complete, and open to retention.
    const now = performance.now();
    for (const segment of [...this.open.values()]) if (now - segment.lastWriteMs > this.segmentUs / 1000) await this.finish(segment);
    const dirty = [...this.open.values(), ...this.finishing].filter((s) => s.dirty);
    if (fsync) await Promise.all(dirty.map((s) => s.handle.sync()));
    for (const segment of dirty) segment.dirty = false;
    const finished = this.finishing;
    this.finishing = [];
    await Promise.all(finished.map((s) => s.handle.close()));
    return fsync ? dirty.length : 0;
  }

  async discard(): Promise<void> {
    // Bytes already in a segment stay there, unindexed: the index names only frames a sync covered.
  }

  forget(topic: string): void {
    this.topicDirs.delete(topic);
  }

  isOpen(file: string): boolean {
    for (const segment of this.open.values()) if (segment.file === file) return true;
    return this.finishing.some((s) => s.file === file);
  }

  async close(fsync: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const segment of [...this.open.values()]) await this.finish(segment).catch(() => undefined);
    try {
      await this.sync(fsync);
    } finally {
      await Promise.all(this.finishing.map((s) => s.handle.close().catch(() => undefined)));
      this.finishing = [];
    }
  }
}
