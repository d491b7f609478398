#!/usr/bin/python3
"""bench/imencode-loop.ts in Python's cv2 (Debian's python3-opencv), for the ceiling of #20: one
single-threaded imencode loop on the bench's clip, one such process per core. Same protocol:

  python-imencode-loop.py CLIP FRAMES SECONDS QUALITY   reads FRAMES frames, prints "ready"; on a "go"
                                                        line encodes them round and round for SECONDS, prints JSON
"""
import json
import sys
import time

import cv2


def main(clip, count, seconds, quality):
    # OpenCV's own parallel loops stay on this thread (imencode has none; libjpeg-turbo is serial).
    cv2.setNumThreads(1)
    capture = cv2.VideoCapture(clip)
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        if not ok:
            raise SystemExit(f"{clip} has fewer than {count} frames")
        frames.append(frame)
    capture.release()
    flags = [cv2.IMWRITE_JPEG_QUALITY, quality]
    for frame in frames[:3]:
        cv2.imencode(".jpg", frame, flags)
    print("ready", flush=True)
    sys.stdin.readline()

    cpu_start = time.process_time()
    started = time.perf_counter()
    until = started + seconds
    encoded = 0
    size = 0
    while time.perf_counter() < until:
        size += len(cv2.imencode(".jpg", frames[encoded % count], flags)[1])
        encoded += 1
    wall_ms = (time.perf_counter() - started) * 1000
    cpu_ms = (time.process_time() - cpu_start) * 1000
    print(json.dumps({"frames": encoded, "wallMs": wall_ms, "cpuMs": cpu_ms, "meanBytes": size // max(1, encoded)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]))
