/**
 * Whether anyone is listening to a stream, so a sender can stop capturing and encoding while no
 * one watches. PUB: the subscriptions XPUB passes up (libzmq forwards a prefix's first subscribe
 * and its last unsubscribe, also when a subscriber disconnects). PUSH: connected peers, from the
 * socket's monitor events.
 */
export class Audience {
  /** Subscribed prefixes that match this stream's topic, as latin1 strings. */
  private readonly prefixes = new Set<string>();
  private peers = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly topicPart: Buffer,
    private readonly kind: 'subscriptions' | 'peers' | 'always',
  ) {}

  get watched(): boolean {
    if (this.kind === 'always') return true;
    return this.kind === 'subscriptions' ? this.prefixes.size > 0 : this.peers > 0;
  }

  /**
   * One XPUB subscription message: 0x01 (subscribe) or 0x00 (unsubscribe), then the prefix.
   * Other bytes are ignored: they cannot come from a SUB socket.
   */
  onSubscriptionMessage(message: Buffer): void {
    const action = message[0];
    const prefix = message.subarray(1);
    if (prefix.length > this.topicPart.length || !this.topicPart.subarray(0, prefix.length).equals(prefix)) return;
    const key = prefix.toString('latin1');
    if (action === 1) this.prefixes.add(key);
    else if (action === 0) this.prefixes.delete(key);
    this.wake();
  }

  onPeerConnected(): void {
    this.peers++;
    this.wake();
  }

  onPeerDisconnected(): void {
    this.peers = Math.max(0, this.peers - 1);
    this.wake();
  }

  /** Resolves true as soon as someone watches (at once if someone does), false if `signal` aborts first. */
  whenWatched(signal: AbortSignal): Promise<boolean> {
    return this.until(true, signal);
  }

  /** Resolves true once no one watches any more, false if `signal` aborts first. */
  whenUnwatched(signal: AbortSignal): Promise<boolean> {
    return this.until(false, signal);
  }

  private until(watched: boolean, signal: AbortSignal): Promise<boolean> {
    if (this.watched === watched) return Promise.resolve(true);
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (reached: boolean): void => {
        this.waiters.delete(check);
        signal.removeEventListener('abort', onAbort);
        resolve(reached);
      };
      const check = (): void => {
        if (this.watched === watched) done(true);
      };
      const onAbort = (): void => done(false);
      this.waiters.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wake(): void {
    for (const check of [...this.waiters]) check();
  }
}
