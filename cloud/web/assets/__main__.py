"""``python -m cloud.web.assets install [--cache DIR]``: see ``cloud.web.assets``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cloud.web.assets import DEFAULT_CACHE, AssetError, install


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloud.web.assets")
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("install", help="fetch, verify and copy the browser libraries")
    cmd.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)
    try:
        for path in install(cache=args.cache):
            print(f"installed {path}")
    except AssetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
