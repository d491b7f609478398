/** What one accepted frame says about its stream: a new sender session began, or how many frames went missing before it. */
export interface SequenceStep {
  newSession: boolean;
  /** Frames the sender numbered between the last accepted one and this one, which never arrived. */
  gap: number;
}

/**
 * The seq bookkeeping of docs/protocol.md for one stream, kept once for everyone who counts: a new
 * session (a sender restart) starts afresh and is neither a gap nor a repeat; within a session, a
 * seq not above the last accepted one is a repeat (a hub's cached frame, say), and a jump is a gap.
 */
export class SequenceTracker {
  private currentSession = -1;
  private lastSeq = -1;

  /** The session of the last accepted frame; -1 before the first. */
  get session(): number {
    return this.currentSession;
  }

  /** Accepts the frame and says what it means, or returns undefined for a repeat. */
  accept(session: number, seq: number): SequenceStep | undefined {
    if (session !== this.currentSession) {
      this.currentSession = session;
      this.lastSeq = seq;
      return { newSession: true, gap: 0 };
    }
    if (seq <= this.lastSeq) return undefined;
    const gap = seq - this.lastSeq - 1;
    this.lastSeq = seq;
    return { newSession: false, gap };
  }
}
