"""``oms-edge --config FILE`` runs the agent; ``oms-edge check-config FILE`` validates a config."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

import structlog

from edge_agent import __version__
from edge_agent.config import ConfigError, load_config

TRACE = 5


def setup_logging(level: str) -> None:
    logging.addLevelName(TRACE, "TRACE")
    numeric = TRACE if level == "TRACE" else getattr(logging, level)
    logging.basicConfig(level=numeric, format="%(message)s", stream=sys.stderr)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.dev.ConsoleRenderer(colors=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "check-config":
        p = argparse.ArgumentParser(prog="oms-edge check-config")
        p.add_argument("file")
        args = p.parse_args(argv[1:])
        try:
            cfg = load_config(args.file)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(
            f"{args.file}: ok — device {cfg.device_id}, {len(cfg.ports)} port(s): "
            + ", ".join(f"{p.name}={p.profile}@{p.url}" for p in cfg.ports)
        )
        return 0
    p = argparse.ArgumentParser(prog="oms-edge", description="OMS edge agent")
    p.add_argument("--config", required=True, help="agent TOML file")
    p.add_argument("--version", action="version", version=__version__)
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    setup_logging(cfg.log_level)
    from edge_agent.agent import Agent

    agent = Agent(cfg)
    signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    signal.signal(signal.SIGINT, lambda *_: agent.stop())
    agent.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
