import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { InvalidArgumentError } from 'commander';

const run = promisify(execFile);

export interface FrameSize {
  width: number;
  height: number;
}

export interface Clip extends FrameSize {
  path: string;
  fps: number;
  frames: number;
}

/**
 * Camera-like content: a moving test card with temporal noise, like a sensor's, so every frame
 * differs and JPEGs are the size a real camera's are (a flat test card encodes unrealistically fast).
 */
export const CLIP_NOISE = 12;
export const CLIP_FPS = 30;
export const CLIP_SECONDS = 2;
/**
 * Uncompressed yuv420p in AVI. A camera delivers raw frames that need only a colour conversion;
 * an H.264 clip would cost 7-24 ms per 720p frame to decode here, and the bench would measure
 * ffmpeg's decoder rather than zerocam.
 */
export const CLIP_CODEC = 'rawvideo yuv420p (AVI)';

export function sizeLabel(size: FrameSize): string {
  return `${size.width}x${size.height}`;
}

/** The usual name for a size (720p), or WIDTHxHEIGHT. */
export function sizeName(size: FrameSize | string): string {
  const label = typeof size === 'string' ? size : sizeLabel(size);
  const names: Record<string, string> = { '640x480': '480p', '1280x720': '720p', '1920x1080': '1080p' };
  return names[label] ?? label;
}

export function parseSizes(value: string): FrameSize[] {
  return value.split(',').map((item) => {
    const match = /^(\d{2,4})x(\d{2,4})$/.exec(item.trim());
    const width = Number(match?.[1]);
    const height = Number(match?.[2]);
    // Even sizes: yuv420p halves both chroma dimensions.
    if (!match || width < 16 || height < 16 || width % 2 !== 0 || height % 2 !== 0) {
      throw new InvalidArgumentError(`expected even WIDTHxHEIGHT sizes, comma-separated, e.g. 640x480,1280x720 (got "${item}")`);
    }
    return { width, height };
  });
}

/** Makes the bench's input clip for one size with ffmpeg; the file source loops over it. */
export async function makeClip(dir: string, size: FrameSize): Promise<Clip> {
  const path = join(dir, `clip-${sizeLabel(size)}.avi`);
  const source = `testsrc2=size=${sizeLabel(size)}:rate=${CLIP_FPS}`;
  await run('ffmpeg', [
    '-v', 'error', '-y',
    '-f', 'lavfi', '-i', source,
    '-vf', `noise=alls=${CLIP_NOISE}:allf=t`,
    '-t', String(CLIP_SECONDS),
    '-c:v', 'rawvideo', '-pix_fmt', 'yuv420p',
    path,
  ]);
  return { ...size, path, fps: CLIP_FPS, frames: CLIP_FPS * CLIP_SECONDS };
}
