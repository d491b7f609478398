import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../common/errors';
import type { Logger } from '../common/log';
import type { DecodedResult } from '../common/sockets/results-feed';

export const RESULTS_FILE = 'results.jsonl';
/** Frames whose saved file a result can be joined to: the newest this many saved. */
const SAVED_KEPT = 4096;
/** Lines waiting for the disk; past it results are dropped and counted, never queued without bound. */
const PENDING_MAX = 256;

/** One line of results.jsonl. */
export interface ResultLine {
  topic: string;
  session: number;
  seq: number;
  captureUs: number;
  processor: string;
  worker: string;
  processingMs: number;
  /** When the hub had it (hub's clock) and when this recorder did (its own), epoch µs. */
  resultUs: number;
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

  /** A frame is on disk as `file` (index.jsonl's name). */
  onSaved(topic: string, session: number, seq: number, file: string): void {
    this.saved.set(`${topic}/${session}/${seq}`, file);
    if (this.saved.size > SAVED_KEPT) this.saved.delete(this.saved.keys().next().value!);
  }

  append(result: DecodedResult, receiveUs: number): void {
    if (this.closed) return;
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

  /** Idempotent: writes what is pending, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.chain;
    await this.file.close();
  }
}
