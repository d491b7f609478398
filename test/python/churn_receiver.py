"""A receiver that comes and goes: CYCLES times it opens a socket, connects, takes one message and
closes at once (linger 0), as a flaky client or a script that grabs one frame does.

Usage: churn_receiver.py PATTERN ENDPOINT CYCLES
  PATTERN  sub (subscribes to everything) | pull
Prints "received N" once all N cycles had their message; "bad message" and exit 1 for anything
that is not a zerocam frame (topic, header, JPEG).
"""
import sys

import zmq


def main(pattern, endpoint, cycles):
    context = zmq.Context()
    for _ in range(cycles):
        socket = context.socket(zmq.SUB if pattern == 'sub' else zmq.PULL)
        if pattern == 'sub':
            socket.setsockopt(zmq.SUBSCRIBE, b'')
        socket.connect(endpoint)
        parts = socket.recv_multipart()
        socket.close(linger=0)
        if len(parts) != 3 or not parts[2].startswith(b'\xff\xd8'):
            print('bad message', [len(p) for p in parts], flush=True)
            return 1
    print('received', cycles, flush=True)
    context.term()
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
