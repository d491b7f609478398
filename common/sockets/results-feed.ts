import * as zmq from 'zeromq';
import { ProtocolError } from '../errors';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from './curve-security';
import { COMMON_SOCKET_OPTIONS, receiveUntilClosed } from './socket-options';
import { decodeResult, type WorkResult } from '../wire/result-protocol';

export type DecodedResult = WorkResult & { bodyJson: Record<string, unknown> };

/**
 * A SUB on a hub's --results socket (docs/protocol.md, "Results"): each well-formed result goes to
 * `onResult`, malformed ones are counted. Subscribes to `topics` (all when empty). Owns its socket.
 */
export class ResultsFeed {
  rejected = 0;
  private closed = false;

  private constructor(
    private readonly secured: SecuredSocket<zmq.Subscriber>,
    private readonly maxFrameBytes: number,
  ) {}

  static async open(endpoint: string, topics: readonly string[], maxFrameBytes: number, security: SocketSecurityOptions | undefined): Promise<ResultsFeed> {
    const secured = await openSecuredSocket(
      (curve) => {
        const socket = new zmq.Subscriber({ ...COMMON_SOCKET_OPTIONS, ...curve, receiveHighWaterMark: 64, maxMessageSize: 2 * maxFrameBytes + 128 * 1024 });
        // Prefix filters, so a result of cam10 reaches a subscriber of cam1: receivers compare topics exactly.
        if (topics.length === 0) socket.subscribe();
        else socket.subscribe(...topics);
        return socket;
      },
      { connect: [endpoint] },
      security,
    );
    return new ResultsFeed(secured, maxFrameBytes);
  }

  /** Calls `onResult` for each result until close(). */
  async run(onResult: (result: DecodedResult) => void): Promise<void> {
    try {
      for await (const parts of receiveUntilClosed(this.secured.socket)) {
        let result: DecodedResult;
        try {
          result = decodeResult(parts, { maxFrameBytes: this.maxFrameBytes });
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          this.rejected++;
          continue;
        }
        onResult(result);
      }
    } catch (error) {
      if (!this.closed) throw error;
    }
  }

  /** Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.secured.close();
  }
}
