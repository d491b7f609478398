import type { ForwarderPattern } from './hub-types';

/** Sends a subscribe (true) or unsubscribe (false) for a prefix to the senders, where the intake can carry it. */
export type SubscribeUpstream = (subscribe: boolean, prefix: string) => Promise<void>;

/**
 * Who wants which streams at the hub: its receivers' subscriptions, and this process's own (the
 * web gateway and its discovery pulses). Each prefix goes upstream once, when the first one wants
 * it, and is withdrawn when the last one lets go, so a camera nobody watches can idle.
 */
export class StreamDemand {
  /** Prefixes receivers subscribe to (XPUB reports each stream's last unsubscribe). */
  private readonly receiverPrefixes = new Set<string>();
  /** Prefixes this process itself wants, with how many holders. */
  private readonly localDemand = new Map<string, number>();

  constructor(
    private readonly pattern: ForwarderPattern,
    private readonly upstream: SubscribeUpstream,
  ) {}

  /** A receiver subscribed (XPUB reports repeats too). */
  async onSubscribe(prefix: string): Promise<void> {
    if (!this.isWanted(prefix)) await this.upstream(true, prefix);
    this.receiverPrefixes.add(prefix);
  }

  /** The last receiver of `prefix` unsubscribed or left. */
  async onUnsubscribe(prefix: string): Promise<void> {
    if (this.receiverPrefixes.delete(prefix) && !this.isWanted(prefix)) await this.upstream(false, prefix);
  }

  /** Wants `prefix` on this process's own behalf, alongside the receivers; returns the release function. */
  demand(prefix: string): () => void {
    if (!this.isWanted(prefix)) void this.upstream(true, prefix);
    this.localDemand.set(prefix, (this.localDemand.get(prefix) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const holders = (this.localDemand.get(prefix) ?? 1) - 1;
      if (holders > 0) this.localDemand.set(prefix, holders);
      else this.localDemand.delete(prefix);
      if (!this.isWanted(prefix)) void this.upstream(false, prefix);
    };
  }

  /** Whether a receiver or this process wants `topic` now (pipeline: always, as frames go to whoever is there). */
  isWatched(topic: string): boolean {
    if (this.pattern === 'pipeline') return true;
    for (const prefix of this.receiverPrefixes) if (topic.startsWith(prefix)) return true;
    for (const prefix of this.localDemand.keys()) if (topic.startsWith(prefix)) return true;
    return false;
  }

  private isWanted(prefix: string): boolean {
    return this.receiverPrefixes.has(prefix) || this.localDemand.has(prefix);
  }
}
