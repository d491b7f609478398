import { nowMicros } from '../../common/clock';
import { DEFAULTS } from '../../common/defaults';
import { UsageError } from '../../common/errors';
import type { Logger } from '../../common/log';
import type { SocketSecurityOptions } from '../../common/sockets/curve-security';
import type { SenderOptions } from '../sender-options';
import { FramePublisher } from './frame-publisher';
import { FrameRequester } from './frame-requester';

/** Where a sender's frames go: a PUB or PUSH socket, or a REQ socket that has each frame acknowledged. */
export type FrameOutput = FramePublisher | FrameRequester;

/** Binds or connects the socket --pattern asks for; each stream is a new session, numbered by its start time. */
export async function openFrameOutput(options: SenderOptions, log: Logger, security: SocketSecurityOptions | undefined): Promise<FrameOutput> {
  const { pattern, attachment, topic } = options;
  const wire = options.wire ?? DEFAULTS.wire;
  if (pattern !== 'req') {
    return FramePublisher.open({ pattern, attachment, topic, wire, sendHighWaterMark: options.sendHighWaterMark ?? DEFAULTS.sendHighWaterMark, security }, nowMicros());
  }
  if (!('connect' in attachment)) throw new UsageError('--pattern req needs --connect: the receiver or hub binds');
  const peers = attachment.connect.join(', ');
  const timeoutMs = options.replyTimeoutMs ?? DEFAULTS.replyTimeoutMs;
  return FrameRequester.open(
    {
      connect: attachment.connect,
      topic,
      wire,
      replyTimeoutMs: options.replyTimeoutMs,
      onTimeout: (first) => {
        if (!first) return;
        log.warn(
          { event: 'reply-timeout', endpoint: attachment.connect[0] },
          `no reply from ${peers} within ${timeoutMs} ms; reopening the socket and retrying with fresh frames (further timeouts are only counted)`,
        );
      },
      onRecovered: () => log.info({ event: 'reply-recovered' }, `replies from ${peers} are back`),
      security,
    },
    nowMicros(),
  );
}
