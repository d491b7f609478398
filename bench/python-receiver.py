#!/usr/bin/python3
"""The receiver a Python user would write for zerocam streams, as the bench's reference for
zerocam's receiver (#20): a pyzmq SUB loop that validates every message with decode() from the
Python receiver in docs/protocol.md (the doc's "Validation", in its order; test/protocol-doc.test.ts
holds it to zerocam's reasons), keeps (session, seq) per topic for drops and repeats, and records
capture-to-receive latency. It saves nothing, like the bench's zerocam receiver, and sets the
socket options the doc's receiver sets, which are zerocam's (receive HWM 2, heartbeats, MAXMSGSIZE).
Debian's python3-zmq. Run by bench/python-receiver.ts:

  python-receiver.py ENDPOINT WARMUP MAX_FRAME_BYTES

Prints "ready" once connected and subscribed; after a "stop" line on stdin it ends at the first
200 ms without a message, prints one JSON line, and exits at the next line (or end) of stdin. CPU is time.process_time() (every thread of the
process, libzmq's I/O thread included) from the WARMUP-th valid frame to the end.
"""
import json
import os
import re
import sys
import threading
import time

import zmq

DOC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "protocol.md")
QUIET_MS = 200


def doc_receiver():
    """The namespace of the doc's Python receiver (its first python block), without running its main()."""
    with open(DOC, encoding="utf-8") as file:
        code = re.search(r"```python\n(.*?)```", file.read(), re.S).group(1)
    namespace = {"__name__": "protocol_doc_receiver"}
    exec(compile(code, DOC, "exec"), namespace)
    return namespace


def percentile(values, p):
    """The smallest value with at least p% of them at or below it, as zerocam's stats define it."""
    if not values:
        return 0
    ordered = sorted(values)
    return ordered[max(0, -(-p * len(ordered) // 100) - 1)]


def main(endpoint, warmup, max_frame_bytes):
    doc = doc_receiver()
    decode, rejected_error = doc["decode"], doc["Rejected"]
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.RCVHWM, 2)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)
    sock.setsockopt(zmq.MAXMSGSIZE, 2 * max_frame_bytes)
    sock.setsockopt(zmq.RCVTIMEO, QUIET_MS)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    print("ready", flush=True)

    streams = {}
    rejected = {}
    latencies_us = []
    frames = dropped = duplicates = 0
    first_us = last_us = 0
    cpu_start = None
    frames_at_warm = 0
    while True:
        try:
            parts = sock.recv_multipart()
        except zmq.Again:
            if stop.is_set():
                break
            continue
        receive_us = time.time_ns() // 1000
        try:
            topic, header, _jpeg = decode(parts, max_frame_bytes)
        except rejected_error as error:
            rejected[error.reason] = rejected.get(error.reason, 0) + 1
            continue
        session, seq = header["session"], header["seq"]
        last = streams.get(topic)
        if last is not None and last[0] == session:
            if seq <= last[1]:
                duplicates += 1
                continue
            dropped += seq - last[1] - 1
        streams[topic] = (session, seq)
        frames += 1
        if frames == 1:
            first_us = receive_us
        last_us = receive_us
        if cpu_start is None:
            if frames >= warmup:
                cpu_start = time.process_time()
                frames_at_warm = frames
            continue
        if header["capture_us"]:
            latencies_us.append(receive_us - header["capture_us"])
    cpu_ms = (time.process_time() - cpu_start) * 1000 if cpu_start is not None else 0
    measured = frames - frames_at_warm
    span_s = (last_us - first_us) / 1e6
    print(json.dumps({
        "frames": frames,
        "fps": round((frames - 1) / span_s, 2) if span_s > 0 else 0,
        "dropped": dropped,
        "duplicates": duplicates,
        "rejected": sum(rejected.values()),
        "rejectedBy": rejected,
        "measuredFrames": measured,
        "cpuMs": round(cpu_ms, 3),
        "cpuMsPerFrame": round(cpu_ms / measured, 3) if measured > 0 else 0,
        "latencyMs": {name: round(percentile(latencies_us, p) / 1000, 3) for name, p in (("p50", 50), ("p99", 99))},
    }), flush=True)
    sock.close()
    # Stays until the bench has read its CPU time from outside (the share of the machine others used).
    sys.stdin.readline()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
