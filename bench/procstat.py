"""CPU time of processes, read from /proc (Linux): shared by the benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_stat(pid: int | str) -> tuple[str, int, float] | None:
    """(command name, process group, CPU seconds: user + system) of a live process, or None
    once it is gone."""
    try:
        head, rest = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)
    except (OSError, ValueError):
        return None
    fields = rest.split()
    return head.split("(", 1)[1], int(fields[2]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_seconds(pid: int) -> float:
    stat = proc_stat(pid)
    if stat is None:
        raise ProcessLookupError(pid)
    return stat[2]
