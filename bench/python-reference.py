#!/usr/bin/python3
"""The loop imagezmq users write, as the bench's reference: cv2.VideoCapture.read(), stamp the
time, cv2.imencode at quality 80, pyzmq send_multipart over PUB/SUB. Debian's python3-opencv and
python3-zmq (scripts/setup.sh). Run by bench/python-reference.ts:

  python-reference.py send CLIP ENDPOINT FPS WARMUP FRAMES   the loop (binds PUB), JSON result on stdout
  python-reference.py receive ENDPOINT WARMUP                a SUB that measures capture-to-receive

FPS 0 is unthrottled. The sender starts a receiver process itself, so one command is one run.
"""
import json
import resource
import struct
import subprocess
import sys
import time

import cv2
import zmq

TOPIC = b"bench"
END = b"end"
JOIN_S = 0.25


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def cpu_ms():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def receive(endpoint, warmup):
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(endpoint)
    print("ready", flush=True)
    latencies, times = [], []
    count = 0
    cpu_start = None
    while True:
        topic, stamp, jpeg = sock.recv_multipart()
        now = time.time()
        if topic == END:
            break
        count += 1
        if count == warmup:
            cpu_start = cpu_ms()
        if count > warmup:
            latencies.append((now - struct.unpack("d", stamp)[0]) * 1000)
            times.append(now)
    span = times[-1] - times[0] if len(times) > 1 else 0
    print(json.dumps({
        "frames": len(latencies),
        "fps": round((len(times) - 1) / span, 2) if span > 0 else 0,
        "latencyMs": {p: round(percentile(latencies, q), 3) for p, q in (("p50", 50), ("p95", 95), ("p99", 99))},
        "cpuMsPerFrame": round((cpu_ms() - cpu_start) / len(latencies), 3) if latencies and cpu_start is not None else 0,
    }), flush=True)


def send(clip, endpoint, fps, warmup, frames):
    sock = zmq.Context.instance().socket(zmq.PUB)
    sock.bind(endpoint)
    bound = sock.getsockopt_string(zmq.LAST_ENDPOINT)
    receiver = subprocess.Popen([sys.executable, __file__, "receive", bound, str(warmup)], stdout=subprocess.PIPE, text=True)
    assert receiver.stdout.readline().strip() == "ready"
    time.sleep(JOIN_S)
    cap = cv2.VideoCapture(clip)
    interval = 1 / fps if fps > 0 else 0
    next_at = time.monotonic()
    cpu_start = None
    sent_times = []
    for i in range(warmup + frames):
        if interval:
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            next_at = max(next_at + interval, time.monotonic() - interval)
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
        stamp = time.time()
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        sock.send_multipart([TOPIC, struct.pack("d", stamp), jpeg])
        if i == warmup - 1:
            cpu_start = cpu_ms()
        if i >= warmup:
            sent_times.append(time.monotonic())
    cpu = cpu_ms() - (cpu_start if cpu_start is not None else 0)
    sock.send_multipart([END, b"", b""])
    received = json.loads(receiver.stdout.readline())
    receiver.wait()
    span = sent_times[-1] - sent_times[0] if len(sent_times) > 1 else 0
    print(json.dumps({
        "senderFps": round((len(sent_times) - 1) / span, 2) if span > 0 else 0,
        "senderCpuMsPerFrame": round(cpu / frames, 3),
        "receiver": received,
    }), flush=True)
    sock.close(linger=1000)


if __name__ == "__main__":
    if sys.argv[1] == "receive":
        receive(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
