#!/usr/bin/env python3
"""seaframe and the seed's design side by side, on the same load, in one run.

Runs `seaframe-bench pipeline` and `baseline/opencv_pipeline.py` (the seed's
Python/OpenCV/Redis design, with and without its per-frame cv2.imencode)
one after the other with the same cameras, rate, frame size and duration,
and prints one table: CPU per stored frame (the pipeline and its Redis
together), peak RSS, p99 capture->indexed latency, frames stored of those
offered, and seaframe's ratio to each baseline. This is the table the
README's performance section shows; it also says how much of seaframe's
CPU is its sharpness scoring, which the seed's design does not do.

    bench/side_by_side.py --cameras 4 --fps 15 --seconds 20

It builds seaframe-bench (cargo, profile bench-fast) and installs the
baseline's pinned requirements into a venv under ~/.cache/seaframe/ once
(PyPI). Both sides start their own redis-server; nothing else is needed.
"""

import argparse
import os
import re
import subprocess
import sys
import venv

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASELINE = os.path.join(ROOT, "bench", "baseline")
VENV = os.path.expanduser("~/.cache/seaframe/opencv-baseline")


def baseline_python():
    """The venv's python, with the baseline's requirements installed once."""
    py = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, "requirements.txt")
    req = os.path.join(BASELINE, "requirements.txt")
    with open(req) as f:
        wanted = f.read()
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return py
    print(f"installing the baseline's requirements into {VENV}", file=sys.stderr)
    venv.create(VENV, with_pip=True)
    subprocess.run([py, "-m", "pip", "install", "-q", "-r", req], check=True)
    with open(stamp, "w") as f:
        f.write(wanted)
    return py


def seaframe_bench(profile):
    """Builds seaframe-bench (profile bench-fast, or dev for a smoke run); its path."""
    subprocess.run(
        ["cargo", "build", "--locked", "--profile", profile, "-p", "seaframe-bench"],
        cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug" if profile == "dev" else profile, "seaframe-bench")


def run(cmd):
    """Runs one side; its standard output (shown as it is read)."""
    print("$ " + " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    sys.stderr.write(out)
    return out


def grab(pattern, text, what):
    m = re.search(pattern, text)
    if not m:
        sys.exit(f"side_by_side: no {what} in the output above (pattern {pattern!r})")
    return [float(g) for g in m.groups()]


def seaframe_figures(out):
    offered, stored = grab(r"offered (\d+)\s+stored (\d+)", out, "counts")
    (agent_cpu,) = grab(r"agent CPU ([\d.]+) s", out, "agent CPU")
    (redis_cpu,) = grab(r"redis CPU ([\d.]+) s", out, "redis CPU")
    # The sharpness scorer (CPU-s per 1000 stored frames): work the seed's
    # design does not do, shown apart.
    (sharpness,) = grab(r"of which the sharpness thread ([\d.]+)\)", out, "sharpness CPU")
    # Without the bench's own pre-encoded frames, which a camera holds instead.
    (rss,) = grab(r"without them: peak ([\d.]+) MB", out, "RSS")
    (p99,) = grab(r"p99 ([\d.]+) ms", out, "latency")
    return dict(offered=offered, stored=stored, cpu_s=agent_cpu + redis_cpu, rss_mb=rss, p99_ms=p99,
                sharpness_ms=sharpness)


def baseline_figures(out):
    offered, stored = grab(r"offered (\d+)\s+stored (\d+)", out, "counts")
    prod, cons = grab(r"CPU producers ([\d.]+) s, consumers ([\d.]+) s", out, "CPU")
    (redis_cpu,) = grab(r"redis CPU ([\d.]+) s", out, "redis CPU")
    (rss,) = grab(r"peak RSS \(sum of processes\) ([\d.]+) MB", out, "RSS")
    (p99,) = grab(r"p99 ([\d.]+) ms", out, "latency")
    return dict(offered=offered, stored=stored, cpu_s=prod + cons + redis_cpu, rss_mb=rss, p99_ms=p99)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--fps", type=float, default=15)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--smoke", action="store_true",
                    help="CI's smoke run: the debug build (figures mean nothing), "
                         "failing only if a side does not run or seaframe loses a frame")
    a = ap.parse_args()
    load = ["--cameras", str(a.cameras), "--fps", str(a.fps), "--seconds", str(a.seconds),
            "--width", str(a.width), "--height", str(a.height)]

    py = baseline_python()
    bench = seaframe_bench("dev" if a.smoke else "bench-fast")
    rows = [
        ("seaframe", seaframe_figures(run([bench, "pipeline", *load]))),
        ("seed design (cv2.imencode per frame)",
         baseline_figures(run([py, os.path.join(BASELINE, "opencv_pipeline.py"), *load]))),
        ("seed design, ready JPEGs",
         baseline_figures(run([py, os.path.join(BASELINE, "opencv_pipeline.py"), *load, "--pre-encoded"]))),
    ]
    for _, r in rows:
        r["cpu_ms"] = r["cpu_s"] / max(r["stored"], 1) * 1000
    ours = rows[0][1]
    print(f"\n{a.cameras} cameras x {a.fps:g} fps, {a.width}x{a.height}, {a.seconds} s, on {os.cpu_count()} cores\n")
    print("| pipeline | stored / offered | CPU-ms per stored frame (with its Redis) | peak RSS | p99 capture->indexed | seaframe's CPU is |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, r in rows:
        ratio = "—" if r is ours else f"1/{r['cpu_ms'] / ours['cpu_ms']:.1f}"
        print(f"| {name} | {r['stored']:.0f} / {r['offered']:.0f} | {r['cpu_ms']:.2f} | "
              f"{r['rss_mb']:.0f} MB | {r['p99_ms']:.0f} ms | {ratio} |")
    print(f"\nseaframe's figure includes {ours['sharpness_ms']:.2f} CPU-ms per frame of sharpness scoring "
          f"(2 frames per camera-second decoded), which the seed's design does not do; "
          f"without it seaframe's CPU is 1/{rows[2][1]['cpu_ms'] / (ours['cpu_ms'] - ours['sharpness_ms']):.1f} "
          f"of the seed's with ready JPEGs.")
    if ours["stored"] < ours["offered"]:
        sys.exit("side_by_side: seaframe did not store every frame offered")


if __name__ == "__main__":
    main()
