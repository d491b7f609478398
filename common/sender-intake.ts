import type { Wire } from './defaults';
import { UsageError } from './errors';
import type { ForwarderPattern } from './frame-forwarder';
import type { Attachment } from './socket-options';

/** What the senders behind a hub run: zerocam's (or imagezmq's) `--pattern`. */
export type HubSenderPattern = 'pub' | 'push' | 'req';

/**
 * How frames enter the hub, resolved from what its senders run:
 *
 * proxy: XSUB (pubsub) or PULL (pipeline), zerocam wire only. Each message is checked and sent on
 *        as the very buffers received; receivers' subscriptions flow upstream (on-demand senders).
 * rep:   REP for REQ senders (zerocam's acknowledged mode, imagezmq's default). Each frame is
 *        answered "OK" once the hub has accepted it. REQ has no subscriptions, so these always send.
 * sub:   SUB, connected to imagezmq PUB senders (they bind). imagezmq has no topics on the wire,
 *        so it subscribes to everything and these always send too.
 *
 * rep and sub go through JpegReceiver, which turns each message into a zerocam frame once
 * (imagezmq: topic from msg, per-topic seq, raw arrays JPEG-encoded with sharp).
 */
export type SenderIntake = { kind: 'proxy' } | { kind: 'rep' | 'sub'; wire: Wire };

export interface SenderIntakeChoice {
  /** The hub's pattern towards its receivers. */
  pattern: ForwarderPattern;
  /** Default: pub for pubsub, push for pipeline. */
  senderPattern?: HubSenderPattern | undefined;
  wire: Wire;
  senders: Attachment;
}

/** The intake for a combination of hub flags; a combination that cannot work is a UsageError. */
export function resolveSenderIntake(choice: SenderIntakeChoice): SenderIntake {
  const senderPattern = choice.senderPattern ?? (choice.pattern === 'pubsub' ? 'pub' : 'push');
  const connects = 'connect' in choice.senders;
  if (senderPattern === 'req') {
    if (connects) throw new UsageError('--sender-pattern req: REQ senders connect to the hub, so give --senders (bind), not --senders-connect');
    return { kind: 'rep', wire: choice.wire };
  }
  const expected = choice.pattern === 'pubsub' ? 'pub' : 'push';
  if (senderPattern !== expected) {
    throw new UsageError(`--sender-pattern ${senderPattern} does not fit --pattern ${choice.pattern}: its senders run ${expected} (or req)`);
  }
  if (choice.wire === 'zerocam') return { kind: 'proxy' };
  if (senderPattern === 'push') throw new UsageError('--sender-wire imagezmq: imagezmq senders use req or pub, not push');
  if (!connects) throw new UsageError('--sender-wire imagezmq with pub senders: imagezmq PUB senders bind, so give the hub --senders-connect tcp://CAMERA:PORT');
  return { kind: 'sub', wire: choice.wire };
}
