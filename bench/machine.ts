import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import sharp from 'sharp';
import * as zmq from 'zeromq';
import { loadOpenCv } from '../common/opencv-loader';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryBytes: number;
  os: string;
  node: string;
  sharp: string;
  libvips: string;
  opencv: string;
  libzmq: string;
  /** 1-minute load average before and after: it lags by a minute, so each measurement's otherProcessesPercent says more. */
  loadAverageBefore: number;
  loadAverageAfter?: number;
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // Not Linux: os.cpus() below.
  }
  return cpus()[0]?.model ?? 'unknown';
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readFileSync('/etc/os-release', 'utf8'));
    if (pretty?.[1]) return `${pretty[1]}, kernel ${release()}`;
  } catch {
    // Not Linux.
  }
  return `${process.platform} ${release()}`;
}

export function describeMachine(): Machine {
  const cv = loadOpenCv();
  return {
    cores: availableParallelism(),
    cpuModel: cpuModel(),
    memoryBytes: totalmem(),
    os: osName(),
    node: process.version,
    sharp: sharp.versions.sharp ?? 'unknown',
    libvips: sharp.versions.vips,
    opencv: `${cv.version.major}.${cv.version.minor}.${cv.version.revision}`,
    libzmq: zmq.version,
    loadAverageBefore: loadavg()[0] ?? 0,
  };
}
