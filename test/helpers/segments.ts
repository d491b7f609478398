import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import sharp from 'sharp';

const run = promisify(execFile);

export const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** `count` real, distinct baseline JPEGs of width x height (sharp), for players and ffmpeg to read. */
export async function distinctJpegs(count: number, width = 64, height = 48): Promise<Buffer[]> {
  const jpegs: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const background = { r: (i * 37) % 256, g: (i * 91) % 256, b: (i * 53) % 256 };
    jpegs.push(await sharp({ create: { width, height, channels: 3, background } }).jpeg({ quality: 80 }).toBuffer());
  }
  return jpegs;
}

/** ffmpeg's MD5 of each packet of a file's video stream, stream-copied (not decoded): equal MD5s mean the JPEG bytes are kept. */
export async function packetMd5s(file: string): Promise<string[]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 });
  return stdout
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(',').at(-1)!.trim());
}

/** How many frames ffmpeg decodes from a file: what a player shows. */
export async function decodedFrameCount(file: string): Promise<number> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0', '-f', 'framemd5', '-'], { maxBuffer: 64 << 20 });
  return stdout.split('\n').filter((line) => line && !line.startsWith('#')).length;
}

/** ffprobe's presentation time of each packet, in µs (it prints them to the µs for µs time bases). */
export async function packetPtsUs(file: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file]);
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => Math.round(Number(line) * 1e6));
}

export async function probeFormat(file: string): Promise<{ codec: string; width: number; height: number; durationS: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,height:format=duration', '-of', 'json', file]);
  const json = JSON.parse(stdout) as { streams: Array<{ codec_name: string; width: number; height: number }>; format: { duration?: string } };
  const stream = json.streams[0]!;
  return { codec: stream.codec_name, width: stream.width, height: stream.height, durationS: Number(json.format.duration ?? NaN) };
}
