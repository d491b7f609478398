#!/usr/bin/env node
/**
 * `node dist/deploy/docker/health-check.js [FILE]`: exit 0 if a zerocam program refreshed its health
 * file (FILE, or $ZEROCAM_HEALTH_FILE) within the last few intervals, else 1 with one line saying why.
 * Docker's HEALTHCHECK runs it.
 */
import { checkHealthFile } from '../../common/cli/health-file';

const path = process.argv[2] ?? process.env.ZEROCAM_HEALTH_FILE;
if (!path) {
  process.stderr.write('health-check: give the health file, or set ZEROCAM_HEALTH_FILE\n');
  process.exit(2);
}
const problem = checkHealthFile(path);
if (problem) process.stderr.write(`unhealthy: ${problem}\n`);
process.exit(problem ? 1 : 0);
