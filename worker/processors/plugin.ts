import { existsSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeError, UsageError } from '../../common/errors';
import type { Processor, ProcessorOutput, WorkFrame } from './processor';

type PluginFunction = (frame: WorkFrame) => unknown;

/**
 * A plug-in: a JavaScript module (CommonJS or ES) whose default export, or export named `process`,
 * is an async function from a frame to `{ result: {...JSON...}, image?: Buffer }` (a JPEG).
 * worker/examples/brightness.mjs is one. Its name in results is the file's name without extension.
 */
export async function loadPlugin(path: string): Promise<Processor> {
  const file = resolve(path);
  if (!existsSync(file)) throw new UsageError(`--processor ${path}: no such file (built-in processors: motion, faces, thumbnail)`);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`--processor ${path}: cannot load it: ${describeError(error)}`);
  }
  const nested = module.default as Record<string, unknown> | undefined;
  const candidate = [module.process, module.default, nested?.process, nested?.default].find((f) => typeof f === 'function') as PluginFunction | undefined;
  if (!candidate) throw new UsageError(`--processor ${path}: the module exports no function (export default async function (frame) {...})`);
  const name = basename(file, extname(file)).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || 'plugin';
  return {
    name,
    async process(frame) {
      return checkOutput(await candidate(frame));
    },
  };
}

/** What a plug-in returned, checked: a JSON-able object as result, and a Buffer (or nothing) as image. */
function checkOutput(value: unknown): ProcessorOutput {
  if (typeof value !== 'object' || value === null) throw new TypeError('the plug-in must return { result: {...}, image?: Buffer }');
  const { result, image } = value as { result?: unknown; image?: unknown };
  if (typeof result !== 'object' || result === null || Array.isArray(result)) throw new TypeError('the plug-in\'s result must be an object');
  if (image !== undefined && !Buffer.isBuffer(image)) throw new TypeError('the plug-in\'s image must be a Buffer holding a JPEG');
  return { result: result as Record<string, unknown>, image };
}
