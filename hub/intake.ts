import type { Wire } from '../common/defaults';
import { UsageError } from '../common/errors';
import type { ForwarderPattern, HubSenderPattern, SenderIntake } from './hub-types';
import type { Attachment } from '../common/sockets/socket-options';

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
