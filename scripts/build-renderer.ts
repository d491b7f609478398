/**
 * Bundles what tsc's CommonJS output cannot serve: the renderer, for the browser and Electron's
 * page, and the preload, which a sandboxed window requires to be a single file.
 */
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
const out = join(root, 'dist', 'electron');

async function main(): Promise<void> {
  await mkdir(join(out, 'renderer'), { recursive: true });
  await build({
    entryPoints: [join(root, 'electron', 'renderer', 'main.ts')],
    outfile: join(out, 'renderer', 'bundle.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: true,
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(root, 'electron', 'preload.ts')],
    outfile: join(out, 'preload.bundle.js'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    external: ['electron'],
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'style.css']) await copyFile(join(root, 'electron', 'renderer', file), join(out, 'renderer', file));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
