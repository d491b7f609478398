import { DEFAULTS } from '../../common/defaults';
import type { LinkSummary } from '../../common/sockets/link-monitor';
import type { JpegSettings } from '../encode/frame-encoder';

export interface LinkAdapterOptions {
  /** The quality asked for (--quality): never exceeded. */
  maxQuality: number;
  /** --min-quality: the floor; below it frames shrink instead. */
  minQuality: number;
}

/**
 * --adapt: fits the stream to its slowest reporting receiver's link by changing the encoder's
 * settings in place. While some receiver is link-limited it steps quality down to the floor, then
 * the scale; while none is, it steps back up, scale first. One encode serves every subscriber of a
 * PUB socket, so the stream fits the slowest link: every viewer keeps its frame rate, and the fast
 * ones pay in quality (docs/protocol.md, "Link reports").
 *
 * A step down waits until the window behind the decision holds only frames of the previous step,
 * or it would keep stepping on old news; a step up waits half that, so quality returns from the
 * floor in (max - min) / step half-windows once the link recovers (2.5 s from 30 to 80).
 */
export class LinkAdapter {
  private lastChangeMs = -Infinity;

  constructor(
    private readonly settings: JpegSettings,
    private readonly options: LinkAdapterOptions,
    private readonly windowMs: number,
  ) {}

  get quality(): number {
    return this.settings.quality;
  }

  get scale(): number {
    return this.settings.scale ?? 1;
  }

  /** One decision, on the link summary of the last `windowMs`. Returns whether anything changed. */
  decide(link: LinkSummary, nowMs: number): boolean {
    if (link.receivers.length === 0) return false;
    if (link.limited) {
      if (nowMs - this.lastChangeMs < this.windowMs) return false;
      return this.stepDown(nowMs);
    }
    return this.stepUp(nowMs);
  }

  private stepDown(nowMs: number): boolean {
    const { minQuality } = this.options;
    if (this.settings.quality > minQuality) {
      this.settings.quality = Math.max(minQuality, this.settings.quality - DEFAULTS.adaptQualityStep);
    } else if (this.scale > DEFAULTS.adaptMinScale) {
      this.settings.scale = Math.max(DEFAULTS.adaptMinScale, this.scale * DEFAULTS.adaptScaleStep);
    } else {
      return false;
    }
    this.lastChangeMs = nowMs;
    return true;
  }

  private stepUp(nowMs: number): boolean {
    // Half a window: the window then already shows whether the last step up still fits.
    if (nowMs - this.lastChangeMs < this.windowMs / 2) return false;
    if (this.scale < 1) {
      const scale = this.scale / DEFAULTS.adaptScaleStep;
      this.settings.scale = scale > 0.999 ? 1 : scale;
    } else if (this.settings.quality < this.options.maxQuality) {
      this.settings.quality = Math.min(this.options.maxQuality, this.settings.quality + DEFAULTS.adaptQualityStep);
    } else {
      return false;
    }
    this.lastChangeMs = nowMs;
    return true;
  }
}
