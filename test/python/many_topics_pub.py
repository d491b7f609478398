"""A publisher of many streams, written from docs/protocol.md: one small valid JPEG on each topic.

It connects an XPUB socket (a PUB that also hears subscriptions) to ENDPOINT, waits until some
subscription arrives, so nothing it sends is dropped for want of a subscriber, then sends one frame
on each of PREFIX{START}..PREFIX{START+COUNT-1}, each a new sender session. Subscriptions are applied
by hand (XPUB_MANUAL) and only the first is: a hub that withdraws its own (its discovery pulse ends)
still gets every frame.

Usage: many_topics_pub.py ENDPOINT PREFIX START COUNT
Prints "subscribed" once a subscription came, and "sent COUNT" once every frame is handed to the socket.
Then it stays until killed: a process that exits while its frames still wait in its kernel's socket
buffer (a busy receiver reads them later) may lose them, so the caller waits for them to arrive first.
"""
import struct
import sys
import time

import cv2
import numpy as np
import zmq

HEADER = struct.Struct('<4sBBBBHHIQQQQ')
WIDTH, HEIGHT = 64, 48


def make_jpeg():
    """A noisy 64x48 image, so the JPEG is a few kB like a tiny camera frame."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return jpeg.tobytes()


def main(endpoint, prefix, start, count):
    jpeg = make_jpeg()
    context = zmq.Context()
    socket = context.socket(zmq.XPUB)
    # Queue everything rather than drop: TCP's flow control paces the hub, nothing is lost.
    socket.setsockopt(zmq.SNDHWM, 0)
    socket.setsockopt(zmq.XPUB_MANUAL, 1)
    socket.connect(endpoint)
    socket.recv()
    socket.setsockopt(zmq.SUBSCRIBE, b'')
    print('subscribed', flush=True)
    session = time.time_ns() // 1000
    for i in range(start, start + count):
        now = time.time_ns() // 1000
        header = HEADER.pack(b'ZCAM', 1, 1, 80, 0, WIDTH, HEIGHT, 0, session + i, 0, now, now)
        socket.send_multipart([f'{prefix}{i}'.encode('ascii'), header, jpeg])
    print('sent', count, flush=True)
    while True:
        socket.recv()  # subscriptions coming and going: not applied


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
