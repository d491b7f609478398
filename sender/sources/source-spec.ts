import { basename, extname } from 'node:path';
import { UsageError } from '../../common/errors';
import type { ChannelOrder, FrameSource, JpegFrameSource } from './frame-source';
import { MjpegSource } from './mjpeg-source';
import { OpenCvSource } from './opencv-source';
import { TestPatternSource } from './test-pattern';

export type SourceSpec =
  | { kind: 'testsrc' }
  | { kind: 'camera'; device: number | string }
  | { kind: 'file'; path: string };

export const SOURCE_SYNTAX = 'testsrc, camera:N, a device path like /dev/video0, or file:PATH';

/** Parses --source: `testsrc`, `camera:N`, `/dev/videoN` (any absolute device path) or `file:PATH`. */
export function parseSourceSpec(raw: string): SourceSpec {
  const value = raw.trim();
  if (value === 'testsrc') return { kind: 'testsrc' };
  const camera = /^camera:(\d+)$/.exec(value);
  if (camera) return { kind: 'camera', device: Number(camera[1]) };
  if (value.startsWith('/dev/')) return { kind: 'camera', device: value };
  if (value.startsWith('file:') && value.length > 5) return { kind: 'file', path: value.slice(5) };
  throw new UsageError(`invalid source "${raw}": expected ${SOURCE_SYNTAX}`);
}

/** A short name for the source, used in the default topic: testsrc, cam0, video2, clip. */
export function sourceSlug(spec: SourceSpec): string {
  switch (spec.kind) {
    case 'testsrc':
      return 'testsrc';
    case 'camera':
      return typeof spec.device === 'number' ? `cam${spec.device}` : basename(spec.device);
    case 'file':
      return basename(spec.path, extname(spec.path));
  }
}

export interface SourceSettings {
  width: number;
  height: number;
  fps: number;
  loop: boolean;
  /** The pixel byte order the encoder takes (default RGB); passthrough sources ignore it. */
  order?: ChannelOrder;
}

export function openSource(spec: SourceSpec, settings: SourceSettings): FrameSource {
  switch (spec.kind) {
    case 'testsrc':
      return new TestPatternSource(settings.width, settings.height, settings.order);
    case 'camera':
      return OpenCvSource.openCamera(spec.device, settings, settings.order);
    case 'file':
      return OpenCvSource.openFile(spec.path, settings.loop, settings.order);
  }
}

/** --passthrough: a source that delivers JPEG frames as they are. */
export function openJpegSource(spec: SourceSpec, settings: SourceSettings): JpegFrameSource {
  switch (spec.kind) {
    case 'testsrc':
      throw new UsageError('--passthrough sends a camera\'s or file\'s own JPEG frames; testsrc makes raw pixels, so drop --passthrough or use a camera or an MJPEG file');
    case 'camera':
      return MjpegSource.openCamera(spec.device, settings);
    case 'file':
      return MjpegSource.openFile(spec.path, settings.loop);
  }
}
