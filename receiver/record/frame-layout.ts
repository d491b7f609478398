import type { IndexEntry } from '../../common/wire/recording-index';
import type { Frame } from '../../common/wire/protocol';

/**
 * How frames lie on disk (--format): one JPEG file each, or video segments. A layout writes; the
 * frame store (receiver/frame-store.ts) decides when writes become durable and indexed.
 */
export interface FrameLayout {
  /**
   * Writes the frame's bytes, not yet durable, and returns its index entry; undefined when the frame
   * is already saved (a repeat). The entry is valid only after the next sync().
   */
  write(frame: Frame, receiveUs: number): Promise<IndexEntry | undefined>;
  /** Makes every write so far durable (fsync when `fsync`) and visible under its final name. Returns the fsyncs it made. */
  sync(fsync: boolean): Promise<number>;
  /** After a failed sync: drops what is not durable where it can (a JPEG's temp file). */
  discard(): Promise<void>;
  /** A file still being written: retention leaves it alone. */
  isOpen(file: string): boolean;
  /** A stream the receiver no longer tracks (--stream-ttl): its directory is checked again if it comes back. */
  forget(topic: string): void;
  /** Finishes open files (fsynced when `fsync`). Idempotent. */
  close(fsync: boolean): Promise<void>;
}
