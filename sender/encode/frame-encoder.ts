import type { ChannelOrder, RawFrame } from '../sources/frame-source';

/**
 * Turns raw frames into baseline JPEG, whole or as parallel strips joined with restart markers
 * (jpeg-restart.ts). The encode pipeline (encode-pipeline.ts) runs either implementation, which
 * choose-encoder.ts picks; this file holds only what they share, so no implementation imports another.
 */
export interface FrameEncoder {
  /** The byte order it takes without converting; sources deliver frames in it. */
  readonly order: ChannelOrder;
  encode(frame: RawFrame, strips?: number): Promise<EncodedFrame>;
}

export interface JpegSettings {
  quality: number;
  /** Huffman optimisation: about 10% smaller camera JPEGs for 2-3x the encode time (docs/benchmarks.md). */
  optimiseCoding: boolean;
  /** Scale to fit inside this box, keeping the aspect ratio. */
  resize?: { width: number; height: number } | undefined;
  /** Then scale by this factor (0-1]; --adapt lowers it on a slow link. Default 1. */
  scale?: number | undefined;
}

export interface EncodedFrame {
  jpeg: Buffer;
  width: number;
  height: number;
  /** Wall time from submitting the frame to getting the JPEG back, µs. */
  encodeUs: number;
  /** Strips the frame was encoded in at once (1: a whole-frame encode). */
  strips: number;
  /** The JPEG quality it was encoded at (settings may change between frames: --adapt). */
  quality: number;
}

/** The box to fit the frame into: --resize's, then scaled; undefined for the frame as it is. */
export function scaledBox(frame: { width: number; height: number }, resize: { width: number; height: number } | undefined, scale: number): { width: number; height: number } | undefined {
  if (scale >= 1) return resize;
  const box = resize ?? frame;
  return { width: Math.max(16, Math.round(box.width * scale)), height: Math.max(16, Math.round(box.height * scale)) };
}

export function elapsedUs(started: number): number {
  return Math.round((performance.now() - started) * 1000);
}
