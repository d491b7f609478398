import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { IndexEntry } from '../../receiver/frame-store';

/** The entries of a receiver's index.jsonl. */
export async function readIndex(dir: string): Promise<IndexEntry[]> {
  const text = await readFile(join(dir, 'index.jsonl'), 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as IndexEntry);
}

/** Every file under the stream folders of an output directory, as TOPIC/NAME, sorted: temp files included. */
export async function listSavedFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) for (const name of await readdir(join(dir, entry.name))) files.push(`${entry.name}/${name}`);
  }
  return files.sort();
}
