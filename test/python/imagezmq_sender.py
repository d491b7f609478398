"""An imagezmq-format sender, written from imagezmq's wire format (docs/protocol.md, "imagezmq interop").

Each message has two parts: UTF-8 JSON metadata, then the JPEG (send_jpg) or the raw uint8 array
in C order (send_image; colour is OpenCV's BGR). In req mode it connects a REQ socket and waits for
each reply, as imagezmq's ImageSender does; in pub mode it binds a PUB socket and sends until killed.

Usage: imagezmq_sender.py MODE ENDPOINT KIND MSG FRAMES [B G R]
  MODE   req | pub
  KIND   jpg (send_jpg) | image (send_image, colour) | grey (send_image, greyscale)
Prints one line per reply (req) and "bound ENDPOINT" once bound (pub).
"""
import json
import sys
import time

import cv2
import numpy as np
import zmq

WIDTH, HEIGHT = 64, 48


def make_image(kind, bgr):
    if kind == 'grey':
        return np.full((HEIGHT, WIDTH), 128, dtype=np.uint8)
    return np.full((HEIGHT, WIDTH, 3), bgr, dtype=np.uint8)


def message(kind, msg, image):
    if kind == 'jpg':
        ok, jpg = cv2.imencode('.jpg', image)
        assert ok
        return [json.dumps({'msg': msg}).encode('utf-8'), jpg.tobytes()]
    metadata = {'msg': msg, 'dtype': str(image.dtype), 'shape': list(image.shape)}
    return [json.dumps(metadata).encode('utf-8'), np.ascontiguousarray(image).tobytes()]


def main(mode, endpoint, kind, msg, frames, bgr):
    parts = message(kind, msg, make_image(kind, bgr))
    context = zmq.Context()
    socket = context.socket(zmq.REQ if mode == 'req' else zmq.PUB)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        if mode == 'req':
            # imagezmq's REQ waits forever; this test peer gives up after 10 s so a broken test cannot hang.
            socket.setsockopt(zmq.RCVTIMEO, 10000)
            socket.connect(endpoint)
            for _ in range(frames):
                socket.send_multipart(parts)
                print('reply', socket.recv().decode('utf-8', 'replace'), flush=True)
        else:
            socket.bind(endpoint)
            print('bound', socket.getsockopt(zmq.LAST_ENDPOINT).decode(), flush=True)
            # PUB drops everything sent before a subscriber joins, so keep sending until killed.
            while True:
                socket.send_multipart(parts)
                time.sleep(0.02)
    finally:
        socket.close()
        context.term()


if __name__ == '__main__':
    args = sys.argv[1:]
    colour = tuple(int(v) for v in args[5:8]) if len(args) >= 8 else (0, 0, 255)
    main(args[0], args[1], args[2], args[3], int(args[4]), colour)
