#!/usr/bin/python3
"""seaframe-testkit's RTSP camera: GStreamer's own RTSP server (Debian's
gir1.2-gst-rtsp-server-1.0, through python3-gi) serving live test patterns
on 127.0.0.1. Started and killed by tests/kit/src/rtsp_camera.rs.

Usage:
  rtsp_camera.py [--port 0] [--seconds 120] [--size 640x360] [--fps 10]
                 [--user U --password P]

Mounts, each encoded live from `videotestsrc` (a moving ball), one
pipeline shared by all clients, RTP over UDP or interleaved TCP:
  /test   H.264 constrained baseline (x264enc), a key frame every second
  /h265   H.265 (x265enc), a key frame every second; only where installed
With --user/--password a client needs HTTP Basic credentials
(rtsp://U:P@127.0.0.1:PORT/test); others get 401.

Readiness: once the server listens it prints one line on stdout,
  READY rtsp://127.0.0.1:PORT/test
(--port 0: the port the kernel chose). It stops after --seconds, on SIGTERM
or SIGINT. Run it with /usr/bin/python3: a venv or pyenv python does not see
Debian's python3-gi.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

# mount -> (encoder element, its options, caps after it, RTP payloader)
ENCODERS = {
    "/test": ("x264enc",
              "tune=zerolatency speed-preset=ultrafast bitrate=800 "
              "key-int-max={fps}",
              "video/x-h264,profile=constrained-baseline",
              "rtph264pay config-interval=1 pt=96"),
    "/h265": ("x265enc",
              "tune=zerolatency speed-preset=ultrafast bitrate=800 "
              "key-int-max={fps}",
              "video/x-h265",
              "rtph265pay config-interval=1 pt=96"),
}


def launch_line(encoder, options, caps, payloader, width, height, fps):
    """The media factory's pipeline for one mount (payloader named pay0)."""
    raw = (f"video/x-raw,format=I420,width={width},height={height},"
           f"framerate={fps}/1")
    return (f"( videotestsrc is-live=true pattern=ball ! {raw} ! "
            f"{encoder} {options.format(fps=fps)} ! {caps} ! "
            f"{payloader} name=pay0 )")


def with_basic_auth(server, user, password):
    """Lets only `user`/`password` (role "camera-user") see the mounts."""
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE,
                     "camera-user")
    auth = GstRtspServer.RTSPAuth()
    auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
    server.set_auth(auth)
    perms = GstRtspServer.RTSPPermissions()
    perms.add_role("camera-user")
    for perm in (GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS,
                 GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT):
        perms.add_permission_for_role("camera-user", perm, True)
    return perms


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--user")
    parser.add_argument("--password", default="")
    args = parser.parse_args()
    if not 0 < args.seconds <= 3600:
        parser.error("--seconds: 1..3600 (runs are bounded)")
    try:
        args.width, args.height = (int(v) for v in args.size.split("x"))
    except ValueError:
        parser.error(f"--size {args.size!r}: WIDTHxHEIGHT")
    return args


def main():
    args = parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    perms = None
    if args.user:
        perms = with_basic_auth(server, args.user, args.password)
    mounts = server.get_mount_points()
    for path, (encoder, options, caps, payloader) in ENCODERS.items():
        if not Gst.ElementFactory.find(encoder):
            continue
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(launch_line(encoder, options, caps, payloader,
                                       args.width, args.height, args.fps))
        factory.set_shared(True)
        if perms is not None:
            factory.set_permissions(perms)
        mounts.add_factory(path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    GLib.timeout_add_seconds(max(1, int(args.seconds)), loop.quit)
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"READY rtsp://127.0.0.1:{server.get_bound_port()}/test",
          flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
