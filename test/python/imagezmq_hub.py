"""An imagezmq-format hub, written from imagezmq's wire format (docs/protocol.md, "imagezmq interop").

Like imagezmq's ImageHub with recv_jpg(): in rep mode it binds a REP socket and answers every
message b'OK'; in sub mode it connects a SUB socket subscribed to everything. For each frame it
prints one JSON line: the msg, the JPEG's decoded size (OpenCV) and its byte count.

Usage: imagezmq_hub.py MODE ENDPOINT FRAMES     (MODE: rep | sub; FRAMES 0 = until killed)
"""
import json
import sys

import cv2
import numpy as np
import zmq


def recv_jpg(socket):
    metadata, jpg = socket.recv_multipart()
    return json.loads(metadata.decode('utf-8'))['msg'], jpg


def main(mode, endpoint, frames):
    context = zmq.Context()
    socket = context.socket(zmq.REP if mode == 'rep' else zmq.SUB)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        if mode == 'rep':
            socket.bind(endpoint)
        else:
            socket.setsockopt(zmq.SUBSCRIBE, b'')
            socket.connect(endpoint)
        print(json.dumps({'event': 'listening', 'endpoint': endpoint}), flush=True)
        count = 0
        while frames == 0 or count < frames:
            msg, jpg = recv_jpg(socket)
            image = cv2.imdecode(np.frombuffer(jpg, dtype=np.uint8), cv2.IMREAD_COLOR)
            height, width = image.shape[:2] if image is not None else (0, 0)
            if mode == 'rep':
                socket.send(b'OK')
            count += 1
            print(json.dumps({'msg': msg, 'width': width, 'height': height, 'bytes': len(jpg)}), flush=True)
    finally:
        socket.close()
        context.term()


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
