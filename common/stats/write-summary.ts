import { rename, writeFile } from 'node:fs/promises';

/** Writes the final --stats-json summary atomically, so a reader never sees half a file. */
export async function writeSummaryFile(path: string, summary: object): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(summary, null, 2)}\n`);
  await rename(temp, path);
}
