import type { SocketSecurityOptions } from '../common/sockets/curve-security';
import type { ReceiverPattern } from '../common/defaults';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import type { Attachment } from '../common/sockets/socket-options';
import type { StreamCatalog } from '../common/web/stream-catalog';
import type { StreamLimits } from '../common/stats/stream-bounds';

export interface StreamWatcherOptions {
  attachment: Attachment;
  pattern: ReceiverPattern;
  /** Exact topics; empty watches every stream. */
  topics: readonly string[];
  maxFrameBytes?: number;
  catalog: StreamCatalog;
  /** CURVE for its socket; plaintext without it. */
  security?: SocketSecurityOptions | undefined;
  /** The streams its link reports cover; the catalog has its own (StreamCatalog's limits). */
  streamLimits?: StreamLimits | undefined;
}

/**
 * Feeds a StreamCatalog from one receiving socket, so the web gateway can serve streams that
 * come straight from senders (`zerocam-viewer --web --connect ...`) as it serves a hub's.
 */
export class StreamWatcher {
  private constructor(
    private readonly receiver: JpegReceiver,
    private readonly catalog: StreamCatalog,
  ) {}

  static async open(options: StreamWatcherOptions): Promise<StreamWatcher> {
    for (const topic of options.topics) options.catalog.expect(topic, true);
    const receiver = await JpegReceiver.open({
      pattern: options.pattern,
      attachment: options.attachment,
      topics: options.topics,
      security: options.security,
      streamLimits: options.streamLimits,
      ...(options.maxFrameBytes === undefined ? {} : { maxFrameBytes: options.maxFrameBytes }),
    });
    return new StreamWatcher(receiver, options.catalog);
  }

  /** Receives until close(). */
  async run(): Promise<void> {
    for await (const received of this.receiver) {
      if (received.kind === 'rejected') this.catalog.onRejected(received.error.reason);
      else this.catalog.add(received.frame, undefined, received.receiveUs, received.clock);
    }
  }

  /** Idempotent. */
  close(): void {
    this.receiver.close();
  }
}
