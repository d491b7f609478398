import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

const run = promisify(execFile);

/** Makes a short H.264 clip with ffmpeg from a lavfi source such as `testsrc` or `color=c=red`. */
export async function makeClip(path: string, source: string, options: { width: number; height: number; fps: number; seconds: number }): Promise<string> {
  const { width, height, fps, seconds } = options;
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `${source}${source.includes("=") ? ":" : "="}size=${width}x${height}:rate=${fps}`, '-t', String(seconds), '-c:v', 'libx264', '-pix_fmt', 'yuv444p', path]);
  return path;
}

export interface DecodedImage {
  width: number;
  height: number;
  pixels: Buffer;
}

export async function decodeJpeg(jpeg: Buffer | string): Promise<DecodedImage> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, pixels: data };
}

export function pixelAt(image: DecodedImage, x: number, y: number): [number, number, number] {
  const i = (y * image.width + x) * 3;
  return [image.pixels[i]!, image.pixels[i + 1]!, image.pixels[i + 2]!];
}

/** Largest per-channel difference between two colours. */
export function colorDistance(a: readonly number[], b: readonly number[]): number {
  return Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? 0))));
}

/**
 * A JPEG-shaped buffer with a real SOF (width x height) and SOS but made-up scan data: enough for
 * every check a receiver makes without decoding. `fill` and `scanBytes` vary its content and size.
 */
export function structuredJpeg(width: number, height: number, fill = 0, scanBytes = 16): Buffer {
  const sof = [0xff, 0xc0, 0x00, 0x0b, 8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0];
  const sos = [0xff, 0xda, 0x00, 0x08, 1, 1, 0, 0, 0x3f, 0];
  return Buffer.concat([Buffer.from([0xff, 0xd8, ...sof, ...sos]), Buffer.alloc(scanBytes, fill), Buffer.from([0xff, 0xd9])]);
}

/** Muxes JPEG files into an MJPEG AVI without touching them (ffmpeg -c:v copy): each packet is one of `frames`, byte for byte. */
export async function makeMjpegAvi(dir: string, name: string, frames: readonly Buffer[], fps = 30): Promise<string> {
  const frameDir = join(dir, `${name}-frames`);
  await mkdir(frameDir, { recursive: true });
  await Promise.all(frames.map((jpeg, i) => writeFile(join(frameDir, `${String(i).padStart(4, '0')}.jpg`), jpeg)));
  const path = join(dir, `${name}.avi`);
  await run('ffmpeg', ['-v', 'error', '-y', '-framerate', String(fps), '-i', join(frameDir, '%04d.jpg'), '-c:v', 'copy', path]);
  return path;
}
