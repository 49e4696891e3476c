"""Decode speed per firmware profile: frames per second through the framer and ``parse``, the
work the edge agent's port reader does for every frame.

Each profile gets a realistic stream built with the simulator's encoders: the truck-in-out
scenario's weights (motion and all) in the simulator's default variant for the 18 weight
profiles, bin tags for the three RFID profiles, alternating GGA/RMC sentences of a moving
truck for NMEA. The stream is fed in ``--chunk``-byte reads, as a serial port delivers it.
A Right Weigh set is three sentences; each counts as a frame. Prints one JSON object; the
figure per profile is the median of ``--runs`` runs.

    .venv/bin/python bench/edge_decode.py [--quick] [--frames N] [--runs 5] [--chunk 32]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from edge_agent.simulate.encoders import FORMATS, SIM_OPTIONS, encoder
from edge_agent.simulate.rfid import TAG_ENCODERS, tag_frame
from edge_agent.simulate.scenarios import BIN_COUNTRY, Tag, play, truck_in_out
from firmware_profiles import ProfileError, get_profile
from firmware_profiles.nmea0183 import encode_sentence


def weight_frames(profile: str, n: int, rng: random.Random) -> list[bytes]:
    encode, out = encoder(profile), list[bytes]()
    while len(out) < n:
        out += [encode(state) for _t, state, _tag in play(truck_in_out(), rate_hz=10, rng=rng)]
    return out[:n]


def tag_frames(profile: str, n: int, rng: random.Random) -> list[bytes]:
    return [tag_frame(profile, Tag(BIN_COUNTRY, rng.randrange(1, 1 << 22))) for _ in range(n)]


def nmea_frames(n: int, rng: random.Random) -> list[bytes]:
    """A truck driving north-east from Utrecht at about 50 km/h, one fix a second."""
    out, at = [], datetime(2025, 3, 14, 7, 30, tzinfo=UTC)
    lat, lon = 52.0907, 5.1214
    for i in range(n):
        at += timedelta(seconds=1)
        lat += 0.00009 + rng.uniform(-1e-5, 1e-5)
        lon += 0.00012 + rng.uniform(-1e-5, 1e-5)
        la = f"{int(lat):02d}{(lat % 1) * 60:07.4f}"
        lo = f"{int(lon):03d}{(lon % 1) * 60:07.4f}"
        hms = f"{at:%H%M%S}.00"
        if i % 2:
            body = f"GPRMC,{hms},A,{la},N,{lo},E,27.0,{45 + rng.uniform(-3, 3):.1f},{at:%d%m%y},,,A"
        else:
            body = f"GPGGA,{hms},{la},N,{lo},E,1,09,0.9,4.2,M,47.3,M,,"
        out.append(encode_sentence(body))
    return out


def streams(n: int) -> dict[str, tuple[dict[str, object], list[bytes]]]:
    """Per profile: (options, frames)."""
    rng = random.Random(1)
    out: dict[str, tuple[dict[str, object], list[bytes]]] = {}
    for name in FORMATS:
        out[name] = (SIM_OPTIONS[name], weight_frames(name, n, rng))
    out["nmea0183"] = ({}, nmea_frames(n, rng))
    for name in TAG_ENCODERS:
        out[name] = ({}, tag_frames(name, n, rng))
    return out


def decode_once(
    profile: str, options: dict[str, object], chunks: list[bytes]
) -> tuple[int, int, float]:
    """(frames decoded, frames rejected, seconds) for one pass, framer built inside."""
    p = get_profile(profile, **options)
    ok = bad = 0
    t0 = time.perf_counter()
    framer = p.framer()
    for chunk in chunks:
        for frame in framer.feed(chunk):
            try:
                p.parse(frame)
                ok += 1
            except ProfileError:
                bad += 1
    for frame in framer.flush():
        try:
            p.parse(frame)
            ok += 1
        except ProfileError:
            bad += 1
    return ok, bad, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="2,000 frames per profile, not 20,000")
    ap.add_argument("--frames", type=int, help="frames per profile (overrides --quick)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--chunk", type=int, default=32, help="bytes per read")
    args = ap.parse_args(argv)
    n = args.frames or (2_000 if args.quick else 20_000)

    profiles: dict[str, dict[str, object]] = {}
    for name, (options, frames) in streams(n).items():
        data = b"".join(frames)
        chunks = [data[i : i + args.chunk] for i in range(0, len(data), args.chunk)]
        rates, decoded, rejected = [], 0, 0
        for _ in range(args.runs):
            decoded, rejected, seconds = decode_once(name, options, chunks)
            rates.append(decoded / seconds)
        profiles[name] = {
            "frames_per_s": round(statistics.median(rates)),
            "frames": decoded,
            "rejected": rejected,
            "bytes_per_frame": round(len(data) / max(decoded, 1), 1),
        }
    print(
        json.dumps(
            {
                "benchmark": "edge_decode",
                "python": platform.python_version(),
                "implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "machine": platform.machine(),
                "frames_per_profile": n,
                "chunk_bytes": args.chunk,
                "runs": args.runs,
                "statistic": "median",
                "profiles": profiles,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
