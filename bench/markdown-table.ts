export type Cell = string | number;

/** A Markdown table: readable in a terminal, and pasted as is into docs/benchmarks.md. */
export function table(header: string[], rows: Cell[][]): string {
  const text = [header, ...rows.map((row) => row.map(String))];
  const widths = header.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => `| ${row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...text.slice(1).map(line)].join('\n');
}
