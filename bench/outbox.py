"""Durable outbox throughput: messages/s committed with ``synchronous=FULL`` (every commit is
fsync'd), in batches as the agent writes them, and one message per commit for comparison.

Prints one JSON object. Usage: python bench/outbox.py [--quick] [--dir DIR]
The directory should be on the disk the agent would use (fsync cost depends on it)."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from edge_agent.outbox import Outbox
from protocols import Measurement, WeightReading

T = datetime(2026, 11, 27, tzinfo=UTC)


def builder(n_readings: int):  # type: ignore[no-untyped-def]
    readings = [
        WeightReading(
            at=T, channel="bridge", value=Decimal(32440 + i), unit="kg", stable=True, mode="gross"
        )
        for i in range(n_readings)
    ]

    def build(seq: int, mid: uuid.UUID) -> Measurement:
        return Measurement(
            message_id=mid, device_id="bench-1", seq=seq, occurred_at=T, readings=readings
        )

    return build


def run(directory: Path, *, messages: int, batch: int, readings: int) -> float:
    path = directory / f"outbox-{uuid.uuid4().hex}.db"
    box = Outbox(path, budget_bytes=2**34)
    assert box.pragma("synchronous") == 2
    build = builder(readings)
    start = time.perf_counter()
    for _ in range(messages // batch):
        box.append_many([build] * batch)
    elapsed = time.perf_counter() - start
    assert box.stats().backlog == messages
    box.close()
    for p in directory.glob(path.name + "*"):
        p.unlink()
    return messages / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    n = 2_000 if args.quick else 20_000
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        d = Path(tmp)
        batched = [run(d, messages=n, batch=100, readings=1) for _ in range(args.runs)]
        batched10 = [run(d, messages=n, batch=100, readings=10) for _ in range(args.runs)]
        single = [run(d, messages=max(200, n // 20), batch=1, readings=1) for _ in range(args.runs)]
    print(
        json.dumps(
            {
                "benchmark": "outbox",
                "synchronous": "FULL",
                "journal_mode": "WAL",
                "batched_100_messages_per_s": round(statistics.median(batched)),
                "batched_100_x10_readings_messages_per_s": round(statistics.median(batched10)),
                "one_per_commit_messages_per_s": round(statistics.median(single)),
                "runs": args.runs,
                "messages_per_run": n,
                "python": platform.python_version(),
                "machine": platform.machine(),
            }
        )
    )


if __name__ == "__main__":
    main()
