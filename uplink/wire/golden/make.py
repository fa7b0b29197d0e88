#!/usr/bin/env python3
"""Writes the golden thumbnail envelopes from docs/wire.md, independently of
the Rust encoder (the Rust tests check both directions against these bytes).
Also a worked example of an encoder in another language. Run from anywhere."""
import math
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
TINY_JPEG = b"\xff\xd8\xff\xd9"


def s8(text):
    raw = text.encode("ascii")
    return struct.pack(">B", len(raw)) + raw


def envelope(vessel, camera, ts_ns, seq, clock, width, height, position, jpeg):
    meta = s8(vessel) + s8(camera) + struct.pack(">qQBHH", ts_ns, seq, clock, width, height)
    if position is None:
        meta += b"\x00"
    else:
        lat, lon, fix, speed, course, heading, age_ms = position
        meta += b"\x01" + struct.pack(">dd", lat, lon) + s8(fix)
        for v in (speed, course, heading):
            meta += struct.pack(">f", math.nan if v is None else v)
        meta += struct.pack(">I", age_ms)
    return struct.pack(">BH", 1, len(meta)) + meta + jpeg


def main():
    common = ("aurora", "mast", 1_764_460_800_123_456_789, 42)
    cases = {
        "thumb-v1-position.bin": envelope(
            *common, 1, 320, 180, (59.5, -10.25, "3d", 12.5, 270.0, None, 250), TINY_JPEG
        ),
        "thumb-v1-no-position.bin": envelope(*common, 0, 320, 180, None, TINY_JPEG),
    }
    for name, data in cases.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
