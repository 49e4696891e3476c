"""``python -m firmware_profiles list`` and ``python -m firmware_profiles decode``.

``decode --profile NAME [--hex HEX] [--option key=value ...]`` prints one JSON object per frame
found, in order; raw bytes are read from stdin when ``--hex`` is absent. Exit status: 0 when at
least one frame was found (a frame that does not parse prints its error), 1 when the bytes held
no complete frame (stderr says how many bytes were read and what the framer waited for), 2 for
usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable

from firmware_profiles.base import FirmwareProfile, ProfileError, error_json
from firmware_profiles.registry import PROFILES, get_profile


def _list(as_json: bool) -> int:
    for p in PROFILES:
        if as_json:
            print(
                json.dumps(
                    {
                        "name": p.name,
                        "serial": p.serial.to_json(),
                        "mode": p.mode,
                        "kinds": sorted(p.kinds),
                        "description": p.description,
                    }
                )
            )
        else:
            print(f"{p.name:<20} {p.serial!s:<10} {p.mode:<10} {p.description}")
    return 0


def _options(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--option takes key=value, got {pair!r}")
        out[key] = value
    return out


def _decode(name: str, hex_text: str | None, options: dict[str, str]) -> int:
    try:
        profile = get_profile(name, **options)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if hex_text is not None:
        try:
            data = bytes.fromhex(hex_text.replace(":", " "))
        except ValueError as exc:
            print(f"error: --hex: {exc}", file=sys.stderr)
            return 2
    else:
        data = sys.stdin.buffer.read()
    framer = profile.framer()
    found = _print_frames(profile, framer.feed(data))
    # Read before flush(), which throws the held-back bytes away.
    pending, waiting, discarded = framer.pending, framer.expecting(), framer.discarded
    found += _print_frames(profile, framer.flush())
    if found == 0:
        print(
            f"error: no complete {name} frame in {len(data)} byte(s) read; "
            f"{discarded} byte(s) skipped as garbage, {pending} byte(s) left waiting for "
            f"{waiting}",
            file=sys.stderr,
        )
        return 1
    if pending:
        print(
            f"note: the last {pending} byte(s) did not complete a frame (waiting for {waiting})",
            file=sys.stderr,
        )
    return 0


def _print_frames(profile: FirmwareProfile, frames: Iterable[bytes]) -> int:
    """Parse and print each frame (a reading, or the error that says why not); the count."""
    n = 0
    for frame in frames:
        try:
            out = profile.parse(frame).to_json()
        except ProfileError as exc:
            out = error_json(exc)
        print(json.dumps(out))
        n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_profiles")
    sub = parser.add_subparsers(dest="command", required=True)
    lst = sub.add_parser("list", help="profile names and serial defaults")
    lst.add_argument("--json", action="store_true")
    dec = sub.add_parser("decode", help="decode raw bytes, one JSON object per frame")
    dec.add_argument("--profile", required=True)
    dec.add_argument("--hex", help="the bytes as hex (spaces allowed); default: stdin")
    dec.add_argument("--option", action="append", default=[], help="profile option key=value")
    args = parser.parse_args(argv)
    if args.command == "list":
        return _list(args.json)
    return _decode(args.profile, args.hex, _options(args.option))


if __name__ == "__main__":
    sys.exit(main())
