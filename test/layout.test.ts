import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, test } from 'node:test';
import ts from 'typescript';

/**
 * The house's shape, read from the source's own imports with the TypeScript compiler the project
 * already has (a lint plugin for this alone would bring some 2,000 lines of lockfile): no import
 * circles anywhere, programs that never reach into each other, and common/'s floors, importing
 * only downwards.
 */
const ROOT = resolve(__dirname, '..', '..');
const PROGRAMS = ['sender', 'receiver', 'hub', 'electron', 'keys', 'worker'];
/** common/'s floors, lowest first: a file may import its own floor and those below it. Files at common/'s top are floor 0. */
const COMMON_FLOORS = ['', 'wire', 'stats', 'sockets', 'viewer', 'web', 'cli'];
const SOURCE_FOLDERS = ['common', ...PROGRAMS, 'bench', 'scripts', 'deploy'];

function sourceFiles(folder: string): string[] {
  let entries;
  try {
    entries = readdirSync(join(ROOT, folder), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Each file's relative imports (values and types alike), as repository paths. */
function importGraph(): Map<string, string[]> {
  const files = SOURCE_FOLDERS.flatMap(sourceFiles);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
    const targets = importedFiles
      .map(({ fileName }) => fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(ROOT, resolve(ROOT, dirname(file), name)).replace(/\.js$/, '') + '.ts')
      .filter((target) => known.has(target));
    graph.set(file, targets);
  }
  return graph;
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (file: string): string[] | undefined => {
    if (state.get(file) === 'done') return undefined;
    if (state.get(file) === 'open') return [...path.slice(path.indexOf(file)), file];
    state.set(file, 'open');
    path.push(file);
    for (const target of graph.get(file) ?? []) {
      const cycle = visit(target);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(file, 'done');
    return undefined;
  };
  for (const file of graph.keys()) {
    const cycle = visit(file);
    if (cycle) return cycle;
  }
  return undefined;
}

const topFolder = (file: string): string => file.split('/')[0] ?? '';
const commonFloor = (file: string): number => {
  const parts = file.split('/');
  return parts.length === 2 ? 0 : COMMON_FLOORS.indexOf(parts[1] ?? '');
};

describe('the house', () => {
  const graph = importGraph();

  test('finds the source it checks', () => {
    assert.ok(graph.size > 100, `only ${graph.size} files found`);
    assert.ok(graph.get('hub/hub.ts')?.includes('hub/forwarder.ts'), 'imports are resolved');
  });

  test('has no import circles', () => {
    assert.equal(findCycle(graph)?.join(' -> '), undefined);
  });

  test('programs never import each other, and common/ imports no program', () => {
    const crossings = [...graph].flatMap(([file, targets]) => {
      const from = topFolder(file);
      if (from !== 'common' && !PROGRAMS.includes(from)) return [];
      return targets.filter((target) => PROGRAMS.includes(topFolder(target)) && topFolder(target) !== from).map((target) => `${file} -> ${target}`);
    });
    assert.deepEqual(crossings, []);
  });

  test("common/ has only its known floors, and each imports only its own floor or lower ones", () => {
    const commonFiles = [...graph.keys()].filter((file) => topFolder(file) === 'common');
    assert.deepEqual(commonFiles.filter((file) => commonFloor(file) < 0), [], 'a folder in common/ that is not a floor');
    const upward = commonFiles.flatMap((file) => (graph.get(file) ?? []).filter((target) => commonFloor(target) > commonFloor(file)).map((target) => `${file} -> ${target}`));
    assert.deepEqual(upward, []);
  });
});
