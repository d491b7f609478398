import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../common/errors';
import type { Logger } from '../common/log';
import type { DecodedResult } from '../common/sockets/results-feed';
import type { ResultHeader } from '../common/wire/result-protocol';

export const RESULTS_FILE = 'results.jsonl';
/** Frames whose saved file a result can be joined to: the newest this many saved. */
const SAVED_KEPT = 4096;
/** Lines waiting for the disk; past it results are dropped and counted, never queued without bound. */
const PENDING_MAX = 256;
/** Frames on their way to the disk whose results wait for them; those in the save queue and the ones written but not yet committed. */
const EXPECTED_MAX = 4096;

/** One line of results.jsonl. */
export interface ResultLine extends ResultHeader {
  topic: string;
  /** When this recorder had it (its own clock), epoch µs; resultUs is the hub's. */
  receiveUs: number;
  /** The processor's JSON body. */
  result: Record<string, unknown>;
  imageBytes: number;
  /** The frame's file in the store (as in index.jsonl) if it was saved before its result came; null otherwise. */
  file: string | null;
}

/**
 * --results: appends each result to OUT/results.jsonl, joined to the frame's saved file. It owns
 * the file; lines are written in arrival order, one append at a time.
 */
export class ResultLog {
  written = 0;
  dropped = 0;
  errors = 0;
  private readonly saved = new Map<string, string>();
  /** Frames handed to the frame store and not saved (or given up) yet, with a result that came meanwhile. */
  private readonly expected = new Map<string, { result: DecodedResult; receiveUs: number } | undefined>();
  private pending = 0;
  private chain: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    private readonly log: Logger,
  ) {}

  static async open(dir: string, log: Logger): Promise<ResultLog> {
    return new ResultLog(await open(join(dir, RESULTS_FILE), 'a'), log);
  }

  /** A frame was handed to the frame store: its result, if it comes first, waits for the save. */
  expect(topic: string, session: number, seq: number): void {
    if (this.expected.size >= EXPECTED_MAX) this.settle(this.expected.keys().next().value!);
    this.expected.set(`${topic}/${session}/${seq}`, undefined);
  }

  /** A frame is on disk as `file` (index.jsonl's name). */
  onSaved(topic: string, session: number, seq: number, file: string): void {
    const key = `${topic}/${session}/${seq}`;
    this.saved.set(key, file);
    if (this.saved.size > SAVED_KEPT) this.saved.delete(this.saved.keys().next().value!);
    this.settle(key);
  }

  /** A frame expected on disk will not be saved (skipped for a newer one, a failed save, a repeat). */
  notSaved(topic: string, session: number, seq: number): void {
    this.settle(`${topic}/${session}/${seq}`);
  }

  private settle(key: string): void {
    const waiting = this.expected.get(key);
    this.expected.delete(key);
    if (waiting) this.write(waiting.result, waiting.receiveUs);
  }

  append(result: DecodedResult, receiveUs: number): void {
    if (this.closed) return;
    const key = `${result.topic}/${result.header.session}/${result.header.seq}`;
    if (this.expected.has(key) && this.expected.get(key) === undefined) {
      this.expected.set(key, { result, receiveUs });
      return;
    }
    this.write(result, receiveUs);
  }

  private write(result: DecodedResult, receiveUs: number): void {
    if (this.pending >= PENDING_MAX) {
      this.dropped++;
      return;
    }
    const { header } = result;
    const line: ResultLine = {
      topic: result.topic,
      ...header,
      receiveUs,
      result: result.bodyJson,
      imageBytes: result.image?.length ?? 0,
      file: this.saved.get(`${result.topic}/${header.session}/${header.seq}`) ?? null,
    };
    this.pending++;
    this.chain = this.chain.then(async () => {
      try {
        await this.file.appendFile(`${JSON.stringify(line)}\n`);
        this.written++;
      } catch (error) {
        if (this.errors++ === 0) this.log.error(`could not append to ${RESULTS_FILE}: ${describeError(error)}`);
      } finally {
        this.pending--;
      }
    });
  }

  /** Idempotent: writes what is pending (results still waiting for their frame, unjoined), then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const key of [...this.expected.keys()]) this.settle(key);
    this.closed = true;
    await this.chain;
    await this.file.close();
  }
}
