"""``python -m protocols schema [--check]``: export or check the committed JSON Schema."""

from __future__ import annotations

import argparse
import sys

from protocols import schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocols")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("schema", help="write protocols/schema/*.schema.json")
    cmd.add_argument("--check", action="store_true", help="only compare; exit 1 on drift")
    args = parser.parse_args(argv)
    if args.check:
        problems = schema.drift()
        for p in problems:
            print(p, file=sys.stderr)
        return 1 if problems else 0
    for path in schema.write():
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
