/**
 * Bundles what tsc's CommonJS output cannot serve: the renderer, for the browser and Electron's
 * page, and the preload, which a sandboxed window requires to be a single file.
 */
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '..', '..');
// The page goes where common/web/viewer-page-routes.ts (VIEWER_PAGE_DIR) reads it; the preload beside Electron's main.
const page = join(root, 'dist', 'viewer-page');
const electronOut = join(root, 'dist', 'electron');

async function main(): Promise<void> {
  await mkdir(page, { recursive: true });
  await mkdir(electronOut, { recursive: true });
  await build({
    entryPoints: [join(root, 'electron', 'renderer', 'main.ts')],
    outfile: join(page, 'bundle.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    sourcemap: true,
    logLevel: 'warning',
  });
  await build({
    entryPoints: [join(root, 'electron', 'preload.ts')],
    outfile: join(electronOut, 'preload.bundle.js'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    external: ['electron'],
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'style.css']) await copyFile(join(root, 'electron', 'renderer', file), join(page, file));
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
