import * as zmq from 'zeromq';
import { DEFAULTS, type Wire } from '../common/defaults';
import { UsageError } from '../common/errors';
import type { ForwarderPattern, HubSenderPattern, SenderIntake } from './hub-types';
import { openSecuredSocket, type SecuredSocket, type SocketSecurityOptions } from '../common/sockets/curve-security';
import { JpegReceiver } from '../common/sockets/jpeg-receiver';
import { COMMON_SOCKET_OPTIONS, type Attachment } from '../common/sockets/socket-options';

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

/** The hub's sender side: a proxy socket whose messages are sent on as received, or a JpegReceiver (rep, sub). */
export type Upstream = SecuredSocket<zmq.XSubscriber | zmq.Pull> | JpegReceiver;

/** What opening an intake needs of the forwarder's options. */
export interface IntakeSocketOptions {
  pattern: ForwarderPattern;
  senders: Attachment;
  maxFrameBytes?: number | undefined;
  receiveHighWaterMark?: number | undefined;
  quality?: number | undefined;
  sendersSecurity?: SocketSecurityOptions | undefined;
  onPeerCutOff?: ((endpoint: string) => void) | undefined;
}

/** Binds (or connects) the senders' side for an intake. */
export async function openIntake(intake: SenderIntake, options: IntakeSocketOptions): Promise<Upstream> {
  const maxFrameBytes = options.maxFrameBytes ?? DEFAULTS.maxFrameBytes;
  if (intake.kind !== 'proxy') {
    return JpegReceiver.open({
      pattern: intake.kind,
      wire: intake.wire,
      attachment: options.senders,
      maxFrameBytes,
      security: options.sendersSecurity,
      ...(options.quality !== undefined && { quality: options.quality }),
      ...(options.receiveHighWaterMark !== undefined && { receiveHighWaterMark: options.receiveHighWaterMark }),
      ...(options.onPeerCutOff && { onPeerCutOff: options.onPeerCutOff }),
    });
  }
  const socketOptions = {
    ...COMMON_SOCKET_OPTIONS,
    receiveHighWaterMark: options.receiveHighWaterMark ?? DEFAULTS.receiveHighWaterMark,
    // The frame's cap applies to the JPEG part; the message's other parts are small.
    maxMessageSize: 2 * maxFrameBytes,
  };
  return openSecuredSocket(
    (curve) => (options.pattern === 'pubsub' ? new zmq.XSubscriber({ ...socketOptions, ...curve }) : new zmq.Pull({ ...socketOptions, ...curve })),
    options.senders,
    options.sendersSecurity,
    options.onPeerCutOff,
  );
}
