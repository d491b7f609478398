import { DEFAULTS } from '../common/defaults';
import type { DemandStreams } from '../common/web/gateway-routes';

export interface StreamDiscoveryOptions {
  intervalMs?: number;
  pulseMs?: number;
}

/**
 * Lets a hub that watches streams only on use still learn which streams exist: now and then it
 * asks for every stream for a moment. On-demand cameras wake for a frame or two, the catalog
 * learns their topics and keeps a recent frame of each, and they idle again.
 */
export class StreamDiscovery {
  private readonly interval: NodeJS.Timeout;
  private pulseEnd: NodeJS.Timeout | undefined;
  private release: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly demand: DemandStreams,
    options: StreamDiscoveryOptions = {},
  ) {
    const pulseMs = options.pulseMs ?? DEFAULTS.hubDiscoveryPulseMs;
    const pulse = (): void => {
      if (this.release) return;
      this.release = this.demand('');
      this.pulseEnd = setTimeout(() => this.endPulse(), pulseMs);
    };
    this.interval = setInterval(pulse, options.intervalMs ?? DEFAULTS.hubDiscoveryIntervalMs);
    pulse();
  }

  private endPulse(): void {
    clearTimeout(this.pulseEnd);
    this.pulseEnd = undefined;
    const release = this.release;
    this.release = undefined;
    release?.();
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.interval);
    this.endPulse();
  }
}
