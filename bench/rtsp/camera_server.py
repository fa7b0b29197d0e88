#!/usr/bin/python3
"""RTSP cameras for `seaframe-bench rtsp`: a pre-encoded H.264 file served
by GStreamer's RTSP server, so that the cameras cost the machine almost
nothing (no encoding while the bench measures).

Usage:
  camera_server.py --cameras 4 --seconds 120 [--size 1920x1080] [--fps 25]
                   [--gop 25] [--kbit 4000] [--play-seconds 120] [--cache DIR]

The clip: ffmpeg's `testsrc2` (moving, detailed), libx264 main profile
without B-frames, constant frame rate --fps, a key frame every --gop frames,
about --kbit kbit/s: what a typical IP camera sends. Ten seconds are encoded
once (kept in --cache, default the system temp dir) and repeated by stream
copy until the file lasts --play-seconds: every client plays it from its
start, so a client that stays less than that never reaches its end.

Mounts rtsp://127.0.0.1:PORT/cam0 .. cam{N-1}: each is its own (not shared)
pipeline `filesrc ! qtdemux ! h264parse ! rtph264pay`, paced in real time
by the server's clock. When the server listens it prints one line
  READY rtsp://127.0.0.1:PORT/
on stdout, then runs until --seconds pass, SIGTERM or SIGINT.

Run with /usr/bin/python3 (Debian's python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-{base,good,bad}); needs ffmpeg to make the clip.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

CLIP_S = 10


def run(cmd):
    done = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace"))
        raise SystemExit(f"failed: {' '.join(cmd)}")


def make_file(cache, size, fps, gop, kbit, seconds):
    """The path of an MP4 lasting at least `seconds`, made if missing."""
    stem = f"seaframe-rtsp-{size}-{fps}fps-gop{gop}-{kbit}k"
    clip = os.path.join(cache, f"{stem}-{CLIP_S}s.mp4")
    if not os.path.exists(clip):
        tmp = clip + ".part.mp4"
        run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error",
             "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}",
             "-t", str(CLIP_S), "-c:v", "libx264", "-preset", "veryfast",
             "-profile:v", "main", "-pix_fmt", "yuv420p", "-bf", "0",
             "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0",
             "-b:v", f"{kbit}k", "-maxrate", f"{kbit}k",
             "-bufsize", f"{2 * kbit}k", tmp])
        os.replace(tmp, clip)
    loops = max(1, -(-int(seconds) // CLIP_S))
    long = os.path.join(cache, f"{stem}-{loops * CLIP_S}s.mp4")
    if not os.path.exists(long):
        tmp = long + ".part.mp4"
        run(["ffmpeg", "-nostdin", "-y", "-loglevel", "error",
             "-stream_loop", str(loops - 1), "-i", clip, "-c", "copy", tmp])
        os.replace(tmp, long)
    return long


def main():
    parser = argparse.ArgumentParser(description="RTSP cameras from a file")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--gop", type=int, default=25)
    parser.add_argument("--kbit", type=int, default=4000)
    parser.add_argument("--play-seconds", type=int, default=120)
    parser.add_argument("--cache", default=tempfile.gettempdir())
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be positive: runs are bounded")
    if not 0 < args.play_seconds <= 3600:
        parser.error("--play-seconds: 1..3600 (the file is kept in --cache)")

    path = make_file(args.cache, args.size, args.fps, args.gop, args.kbit,
                     args.play_seconds)
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    launch = (f'( filesrc location="{path}" ! qtdemux ! h264parse ! '
              "rtph264pay name=pay0 pt=96 config-interval=1 )")
    for i in range(args.cameras):
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch)
        factory.set_shared(False)
        server.get_mount_points().add_factory(f"/cam{i}", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    GLib.timeout_add(int(args.seconds * 1000), loop.quit)
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}/", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
