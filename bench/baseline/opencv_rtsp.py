#!/usr/bin/env python3
"""The seed design's RTSP capture, as a benchmark baseline for
`seaframe-bench rtsp`: OpenCV's VideoCapture in Python.

One thread per camera opens `cv2.VideoCapture(url, cv2.CAP_FFMPEG)` (RTSP
over TCP, as the agent asks for), calls read() on every frame the camera
sends (decoded and converted to BGR inside OpenCV, in this process) and
keeps one frame per 1/fps, JPEG-encoded with cv2.imencode at quality 90 as
the seed stored JPEGs. After --warmup-seconds (opening, probing, the
server's first burst) it measures --seconds, then prints one line:

  RESULT frames=N cpu_s=S peak_rss_kib=K read=R

frames: frames kept (encoded) in the window, all cameras; cpu_s: this
process's user + system CPU in the window (getrusage(RUSAGE_SELF): OpenCV
decodes in process, so that is all of it), as the agent's figure;
peak_rss_kib: VmHWM of the whole run; read: frames read() in the window.

Usage: .venv/bin/python opencv_rtsp.py --fps 5 --seconds 30
       [--warmup-seconds 10] URL [URL ...]
"""

import argparse
import os
import resource
import sys
import threading
import time

# Before cv2 is imported: RTSP over TCP, the transport the agent uses.
os.environ.setdefault("OPENCV_FFMPEG_CAPTURE_OPTIONS", "rtsp_transport;tcp")

import cv2  # noqa: E402


def peak_rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def camera(url, fps, measure_from, deadline, totals, lock, errors):
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    if not cap.isOpened():
        errors.append(f"cannot open {url}")
        return
    period = 1.0 / fps
    next_keep = time.monotonic()
    kept = read = 0
    while time.monotonic() < deadline:
        ok, frame = cap.read()
        if not ok:
            errors.append(f"read failed on {url}")
            break
        now = time.monotonic()
        if now >= measure_from:
            read += 1
        if now >= next_keep:
            ok, jpeg = cv2.imencode(".jpg", frame,
                                    [cv2.IMWRITE_JPEG_QUALITY, 90])
            if ok and len(jpeg) > 0 and now >= measure_from:
                kept += 1
            # The next keep one period on, never in the past.
            next_keep = max(next_keep + period, now)
    cap.release()
    with lock:
        totals[0] += kept
        totals[1] += read


def main():
    parser = argparse.ArgumentParser(description="OpenCV RTSP baseline")
    parser.add_argument("--fps", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup-seconds", type=float, default=10.0)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    if args.fps <= 0 or args.seconds <= 0:
        parser.error("--fps and --seconds must be positive")
    measure_from = time.monotonic() + args.warmup_seconds
    deadline = measure_from + args.seconds
    totals, lock, errors = [0, 0], threading.Lock(), []
    threads = [threading.Thread(target=camera,
                                args=(u, args.fps, measure_from, deadline,
                                      totals, lock, errors))
               for u in args.urls]
    for t in threads:
        t.start()
    time.sleep(max(0.0, measure_from - time.monotonic()))  # a window, not readiness
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    for t in threads:
        t.join()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    for e in errors:
        print(e, file=sys.stderr)
    cpu_s = (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    print(f"RESULT frames={totals[0]} cpu_s={cpu_s:.3f} "
          f"peak_rss_kib={peak_rss_kib()} read={totals[1]}", flush=True)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
