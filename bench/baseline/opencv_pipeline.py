#!/usr/bin/env python3
"""The original seaframe design, re-created as a benchmark baseline.

Producers (one process per camera) push frames into ONE Redis list;
consumers (N processes) pop them, decode with cv2.imdecode, write with
cv2.imwrite into the dated folder layout, and insert + commit one SQLite row
per frame. As in the original, producers encode each raw frame with cv2.imencode
(--pre-encoded pushes ready JPEGs instead, as seaframe-bench does: a
variant that flatters the baseline).

Usage: .venv/bin/python opencv_pipeline.py [--cameras 4] [--fps 30]
       [--width 1920] [--height 1080] [--seconds 20] [--consumers 2]
It starts its own redis-server on a free loopback port in a temp dir and
kills it (by PID) at the end; data goes to a temp dir, removed at the end.
"""

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time

import cv2
import numpy as np
import redis

LIST_KEY = "frames"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_redis(tmp):
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", tmp, "--logfile", ""],
        stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:  # readiness from the server's own words
        if "Ready to accept connections" in line:
            break
    return proc, port


def camera_like_jpeg(w, h, seed):
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, w, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, h, dtype=np.float32)[:, None]
    noise = rng.integers(0, 32, (h, w), dtype=np.uint8)
    img = np.stack([(x + noise) % 256, (y + noise / 2 + seed * 20) % 256,
                    ((x + y) / 4 + noise) % 256], axis=-1).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


def producer(cam, fps, seconds, port, jpegs, encode, results):
    r = redis.Redis(port=port)
    # The original captured raw frames (cv2.VideoCapture) and encoded each
    # with cv2.imencode before pushing; --pre-encoded skips that cost.
    raw = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs] if encode else None
    period, start, seq = 1.0 / fps, time.monotonic(), 0
    while time.monotonic() - start < seconds:
        captured = time.time_ns()
        if encode:
            jpeg = cv2.imencode(".jpg", raw[seq % len(raw)], [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
        else:
            jpeg = jpegs[seq % len(jpegs)]
        header = f"cam-{cam}|{seq}|{captured}|".encode()
        r.rpush(LIST_KEY, header + jpeg)
        seq += 1
        time.sleep(max(0.0, start + seq * period - time.monotonic()))
    u = resource.getrusage(resource.RUSAGE_SELF)
    results.put(("producer", seq, u.ru_utime + u.ru_stime, u.ru_maxrss, []))


def consumer(port, data, deadline, results):
    r = redis.Redis(port=port)
    db = sqlite3.connect(os.path.join(data, "index.db"), timeout=30)
    stored, latencies = 0, []
    while time.time() < deadline:
        item = r.blpop(LIST_KEY, timeout=1)
        if item is None:
            if r.get("done") and r.llen(LIST_KEY) == 0:
                break
            continue
        cam, seq, ts, jpeg = item[1].split(b"|", 3)
        ts = int(ts)
        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        t = time.gmtime(ts / 1e9)
        folder = os.path.join(data, "frames", cam.decode(), time.strftime("%Y/%m/%d/%H/%M", t))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{t.tm_sec:02d}.{ts // 1_000_000 % 1000:03d}-{int(seq)}.jpg")
        cv2.imwrite(path, img)
        db.execute("INSERT INTO frames (camera, captured_at_ns, seq, path, bytes, width, height) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (cam.decode(), ts, int(seq), path, os.path.getsize(path), img.shape[1], img.shape[0]))
        db.commit()
        stored += 1
        latencies.append((time.time_ns() - ts) / 1e6)
    u = resource.getrusage(resource.RUSAGE_SELF)
    results.put(("consumer", stored, u.ru_utime + u.ru_stime, u.ru_maxrss, latencies))


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--consumers", type=int, default=2)
    ap.add_argument("--pre-encoded", action="store_true",
                    help="push ready JPEGs (skip the original's per-frame cv2.imencode)")
    ap.add_argument("--drain-seconds", type=float, default=20,
                    help="how long consumers may go on after producers stop")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="opencv-baseline")
    redis_proc, port = start_redis(tmp)
    try:
        db = sqlite3.connect(os.path.join(tmp, "index.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE frames (id INTEGER PRIMARY KEY, camera TEXT, captured_at_ns INTEGER,"
                   " seq INTEGER, path TEXT, bytes INTEGER, width INTEGER, height INTEGER)")
        db.commit()
        db.close()
        jpegs = [[camera_like_jpeg(a.width, a.height, c * 3 + i + 1) for i in range(3)]
                 for c in range(a.cameras)]
        avg_kb = sum(len(j) for s in jpegs for j in s) / (3 * a.cameras) / 1024
        print(f"opencv baseline: {a.cameras} cameras x {a.fps} fps, {a.width}x{a.height} "
              f"({avg_kb:.0f} KB JPEGs), {a.seconds} s, {a.consumers} consumers, "
              f"producers {'push ready JPEGs' if a.pre_encoded else 'cv2.imencode each frame'}")
        results = mp.Queue()
        redis_cpu0 = proc_cpu(redis_proc.pid)
        t0 = time.time()
        deadline = t0 + a.seconds + a.drain_seconds
        procs = [mp.Process(target=producer, args=(c, a.fps, a.seconds, port, jpegs[c], not a.pre_encoded, results))
                 for c in range(a.cameras)]
        procs += [mp.Process(target=consumer, args=(port, tmp, deadline, results))
                  for _ in range(a.consumers)]
        for p in procs:
            p.start()
        got = [results.get() for _ in range(a.cameras)]  # producers end first
        redis.Redis(port=port).set("done", 1)
        got += [results.get() for _ in range(a.consumers)]
        for p in procs:
            p.join()
        elapsed = time.time() - t0
        backlog = redis.Redis(port=port).llen(LIST_KEY)
        redis_cpu = proc_cpu(redis_proc.pid) - redis_cpu0
    finally:
        redis_proc.kill()
        redis_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    offered = sum(n for kind, n, *_ in got if kind == "producer")
    stored = sum(n for kind, n, *_ in got if kind == "consumer")
    cpu_p = sum(c for kind, _, c, *_ in got if kind == "producer")
    cpu_c = sum(c for kind, _, c, *_ in got if kind == "consumer")
    rss_mb = sum(m for _, _, _, m, _ in got) / 1024
    lat = sorted(x for *_, l in got for x in l)
    pct = lambda p: lat[round((len(lat) - 1) * p)] if lat else float("nan")
    print(f"offered {offered}  stored {stored}  backlog left in Redis {backlog}")
    print(f"stored {stored / a.seconds:.1f} frames/s over {a.seconds:.0f} s of offering "
          f"({elapsed:.1f} s in all)")
    print(f"CPU producers {cpu_p:.2f} s, consumers {cpu_c:.2f} s = "
          f"{(cpu_p + cpu_c) / max(stored, 1) * 1000:.1f} CPU-s per 1000 stored frames")
    print(f"redis CPU {redis_cpu:.2f} s")
    print(f"peak RSS (sum of processes) {rss_mb:.0f} MB")
    print(f"capture->indexed latency p50 {pct(0.5):.0f} ms  p99 {pct(0.99):.0f} ms")


if __name__ == "__main__":
    main()
