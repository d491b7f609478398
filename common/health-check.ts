#!/usr/bin/env node
/**
 * `node dist/common/health-check.js [FILE]`: exit 0 if a zerocam program refreshed its health file
 * (FILE, or $ZEROCAM_HEALTH_FILE) within the last few intervals, else 1 with one line saying why.
 * Docker's HEALTHCHECK runs it.
 */
import { statSync } from 'node:fs';
import { DEFAULTS } from './defaults';

export function checkHealthFile(path: string, nowMs = Date.now()): string | undefined {
  let ageMs: number;
  try {
    ageMs = nowMs - statSync(path).mtimeMs;
  } catch {
    return `${path} does not exist: the program is not running, or not started yet`;
  }
  const limitMs = DEFAULTS.healthIntervalMs * DEFAULTS.healthStaleIntervals;
  return ageMs > limitMs ? `${path} was last refreshed ${(ageMs / 1000).toFixed(1)} s ago: the program is stuck` : undefined;
}

if (require.main === module) {
  const path = process.argv[2] ?? process.env.ZEROCAM_HEALTH_FILE;
  if (!path) {
    process.stderr.write('health-check: give the health file, or set ZEROCAM_HEALTH_FILE\n');
    process.exit(2);
  }
  const problem = checkHealthFile(path);
  if (problem) process.stderr.write(`unhealthy: ${problem}\n`);
  process.exit(problem ? 1 : 0);
}
