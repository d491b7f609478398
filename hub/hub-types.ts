import type { Wire } from '../common/defaults';

/**
 * The hub's own vocabulary, apart from the files that use it, so the forwarder and the intakes
 * never import each other.
 */
export type ForwarderPattern = 'pubsub' | 'pipeline';

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
