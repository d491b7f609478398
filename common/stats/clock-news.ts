import type { Logger } from '../log';
import type { ClockEstimate } from './clock-offset';

/**
 * A sender whose clock is surely further off than this (|offset| − uncertainty) is worth a warning:
 * NTP on a LAN keeps hosts within 1-10 ms, so this is a host without NTP, or one that has not synced
 * yet (a Raspberry Pi without a real-time clock, just booted).
 */
export const FAR_CLOCK_MS = 100;

export type ClockNews =
  | { kind: 'far'; offsetMs: number; uncertaintyMs: number }
  | { kind: 'stepped'; offsetMs: number; uncertaintyMs: number; previousOffsetMs: number; far: boolean };

/**
 * What a stream's clock estimates say that a person should hear once, not in every stats line: the
 * sender's clock is far off (once per sender session), or a clock stepped (each step). Pure.
 */
export class ClockNewsTracker {
  private session: number | undefined;
  private warnedFar = false;
  private steps = 0;
  private lastOffsetUs: number | undefined;

  onEstimate(session: number, clock: ClockEstimate | undefined): ClockNews | undefined {
    if (session !== this.session) {
      this.session = session;
      this.warnedFar = false;
      this.steps = clock?.steps ?? 0;
      this.lastOffsetUs = undefined;
    }
    if (!clock) return undefined;
    const previousOffsetUs = this.lastOffsetUs;
    this.lastOffsetUs = clock.offsetUs;
    const offsetMs = round1(clock.offsetUs / 1000);
    const uncertaintyMs = round1(clock.uncertaintyUs / 1000);
    const far = Math.abs(clock.offsetUs) - clock.uncertaintyUs > FAR_CLOCK_MS * 1000;
    if (clock.steps > this.steps) {
      this.steps = clock.steps;
      if (previousOffsetUs !== undefined) {
        // The step's news says how far off the clock is now, so that is said too.
        this.warnedFar ||= far;
        return { kind: 'stepped', offsetMs, uncertaintyMs, previousOffsetMs: round1(previousOffsetUs / 1000), far };
      }
    }
    if (!this.warnedFar && far) {
      this.warnedFar = true;
      return { kind: 'far', offsetMs, uncertaintyMs };
    }
    return undefined;
  }
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

/** One readable warning per piece of clock news about `topic`'s sender. */
export function logClockNews(log: Logger, topic: string, news: ClockNews, where = ''): void {
  const offset = `${Math.abs(news.offsetMs)} ms ${news.offsetMs >= 0 ? 'ahead of' : 'behind'} this host's (± ${news.uncertaintyMs} ms)`;
  if (news.kind === 'far') {
    log.warn(
      { event: 'clock-far', topic, clockOffsetMs: news.offsetMs, clockUncertaintyMs: news.uncertaintyMs },
      `${where}"${topic}": its sender's clock is ${offset}. Latency is corrected by it, but capture times (captureUs) stay on the sender's clock: run NTP on both hosts`,
    );
  } else {
    log.warn(
      { event: 'clock-step', topic, clockOffsetMs: news.offsetMs, clockUncertaintyMs: news.uncertaintyMs, previousClockOffsetMs: news.previousOffsetMs },
      `${where}"${topic}": a clock stepped (its sender's or this host's): the sender's clock is now ${offset}, was ${news.previousOffsetMs} ms; latency follows the new offset${news.far ? '; run NTP on both hosts' : ''}`,
    );
  }
}
