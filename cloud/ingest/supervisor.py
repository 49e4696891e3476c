"""``oms ingest --workers N``: N worker processes, each restarted when it dies (a crash, an OOM
kill, ``kill -9``), with backoff, until the supervisor is told to stop. Nothing is lost when a
worker dies: what it had not committed was never acknowledged, so the broker delivers it
again (to a sibling or to the restarted worker)."""

from __future__ import annotations

import signal
import subprocess
import time

import structlog

log = structlog.get_logger("cloud.ingest")


def supervise(commands: list[list[str]], *, max_backoff_s: float = 30.0) -> int:
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs = [subprocess.Popen(cmd) for cmd in commands]
    backoff = [1.0] * len(commands)
    started = [time.monotonic()] * len(commands)
    restart_at: list[float | None] = [None] * len(commands)
    while not stopping:
        time.sleep(0.2)
        now = time.monotonic()
        for i, proc in enumerate(procs):
            if proc.poll() is None:
                if now - started[i] > 60:
                    backoff[i] = 1.0  # it stayed up: a next crash restarts quickly again
                continue
            if restart_at[i] is None:
                log.warning(
                    "ingest.worker_died", index=i, code=proc.returncode, restart_in_s=backoff[i]
                )
                restart_at[i] = now + backoff[i]
                backoff[i] = min(backoff[i] * 2, max_backoff_s)
            elif now >= restart_at[i]:  # type: ignore[operator]
                procs[i] = subprocess.Popen(commands[i])
                started[i] = now
                restart_at[i] = None
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    codes = []
    for proc in procs:
        try:
            codes.append(proc.wait(timeout=30))
        except subprocess.TimeoutExpired:
            proc.kill()
            codes.append(proc.wait())
    return 0 if all(c in (0, -signal.SIGTERM) for c in codes) else 1
