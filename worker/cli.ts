#!/usr/bin/env node
import { hostname } from 'node:os';
import { InvalidArgumentError, Option } from 'commander';
import { checkAndWatchConnectEndpoints } from '../common/cli/connect-endpoints';
import { CURVE_HELP, curveKeyOption, curveServerOption } from '../common/cli/curve-options';
import { healthFileOption, socketBufferOption } from '../common/cli/options';
import { createProgram, envOption, parseCommandLine, runCli } from '../common/cli/program';
import { runService } from '../common/cli/run-service';
import { parseEndpointFor, parseIntIn } from '../common/cli/values';
import { DEFAULTS } from '../common/defaults';
import { createLogger } from '../common/log';
import type { CurveKeyPair } from '../common/sockets/curve-keys';
import { setNetworkSocketBuffer } from '../common/sockets/socket-options';
import { MAX_WORKER_JOBS } from '../common/wire/work-protocol';
import { BUILT_IN_PROCESSORS, chooseProcessor } from './processors/choose-processor';
import { Worker } from './worker';
import { workerLine } from './worker-stats';

const NAME = 'zerocam-worker';

interface RawOptions {
  connect: string;
  processor: string;
  jobs: number;
  name?: string;
  heartbeat: number;
  maxFrameBytes: number;
  socketBuffer: number;
  curveKey?: CurveKeyPair;
  curveServer?: string;
  statsJson?: string;
  healthFile?: string;
  stats: boolean;
}

/** A worker's name: 1-64 characters of the topic alphabet. */
function parseName(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value)) throw new InvalidArgumentError('use 1-64 characters of A-Z a-z 0-9 . _ -, the first a letter or digit');
  return value;
}

function defaultName(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 64) || `worker-${process.pid}`;
}

function buildProgram() {
  return createProgram(NAME, 'Process frames handed out by zerocam-hub --workers, and send each result back.')
    .addOption(envOption('-c, --connect <endpoint>', "the hub's --workers endpoint", 'CONNECT').argParser(parseEndpointFor('connect')).default(DEFAULTS.workerConnect))
    .addOption(envOption('--processor <name|path>', `${BUILT_IN_PROCESSORS.join(', ')}, or the path of a JavaScript plug-in module (worker/examples/brightness.mjs)`, 'PROCESSOR').makeOptionMandatory())
    .addOption(envOption('-j, --jobs <n>', 'frames in hand at once (the credit it asks the hub for)', 'JOBS').argParser(parseIntIn(1, MAX_WORKER_JOBS)).default(DEFAULTS.workerJobs))
    .addOption(envOption('--name <name>', 'this worker\'s name in results and stats (default HOST-PID)', 'NAME').argParser(parseName))
    .addOption(envOption('--heartbeat <ms>', 'heartbeat interval with the hub; a hub silent for 3 is reconnected', 'HEARTBEAT').argParser(parseIntIn(10, 60_000)).default(DEFAULTS.workHeartbeatMs))
    .addOption(envOption('--max-frame-bytes <n>', 'reject JPEGs larger than this', 'MAX_FRAME_BYTES').argParser(parseIntIn(1024, 1 << 30)).default(DEFAULTS.maxFrameBytes))
    .addOption(envOption('--stats-json <file>', 'write a summary as JSON here at exit', 'STATS_JSON'))
    .addOption(healthFileOption())
    .addOption(socketBufferOption())
    .addOption(new Option('--no-stats', 'do not print live stats'))
    .addOption(curveKeyOption())
    .addOption(curveServerOption())
    .addHelpText(
      'after',
      `
Examples:
  ${NAME} --connect tcp://HUB:5557 --processor faces --jobs 2
  ${NAME} --connect tcp://HUB:5557 --processor motion       (run the hub with --affinity stream)
  ${NAME} --connect tcp://HUB:5557 --processor ./my-detector.mjs

A plug-in exports one async function from a frame ({ jpeg, topic, session, seq, captureUs, width,
height }) to { result: {...JSON...}, image?: JPEG Buffer }; boxes in result.boxes ([{x, y, w, h,
label}], frame pixels) are drawn by the viewer. On SIGTERM the worker finishes the frames it holds
(up to half a second), hands back the rest, and exits.

${CURVE_HELP}

Every option can also be set as ZEROCAM_<NAME>, e.g. ZEROCAM_CONNECT=tcp://hub:5557 ZEROCAM_PROCESSOR=faces.`,
    );
}

async function main(argv: readonly string[], signal: AbortSignal): Promise<number> {
  const program = buildProgram();
  parseCommandLine(program, argv);
  const raw = program.opts<RawOptions>();
  setNetworkSocketBuffer(raw.socketBuffer);
  const log = createLogger(NAME);
  const processor = await chooseProcessor(raw.processor);
  const name = raw.name ?? defaultName();
  const hosts = await checkAndWatchConnectEndpoints([raw.connect], log);
  const worker = Worker.open(
    { connect: raw.connect, processor, jobs: raw.jobs, name, heartbeatMs: raw.heartbeat, maxFrameBytes: raw.maxFrameBytes, curve: { key: raw.curveKey, serverKey: raw.curveServer } },
    log,
  );
  const final = await runService(NAME, raw, {
    summary: (last) => worker.summary(last),
    liveLine: workerLine,
    run: () =>
      worker.run(signal, () =>
        log.info({ event: 'working', endpoint: raw.connect, processor: processor.name, worker: name, jobs: raw.jobs }, `worker ${name} (${processor.name}, ${raw.jobs} jobs) connecting to ${raw.connect}`),
      ),
    close: () => {
      hosts.close();
      worker.close();
    },
  });
  log.info(`stopped after ${final.frames} frames (${final.errors} errors)`);
  return 0;
}

if (require.main === module) void runCli(NAME, process.argv.slice(2), main);
