"""`oms demo --smoke`: the embedded defaults (SQLite, amqtt, child processes) end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_demo_smoke_creates_an_order_from_a_weighing(tmp_path: Path) -> None:
    out = tmp_path / "smoke"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cloud.entrypoints.cli",
            "demo",
            "--smoke",
            "--out",
            str(out),
            "--port",
            "0",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    orders = json.loads((out / "orders.json").read_text())
    done = [o for o in orders if o["source"] == "weighing" and o["status"] == "executed"]
    assert done, orders
    w = done[0]["weighings"][0]
    assert w["tare_kind"] == "measured" and w["net"] == str(int(w["gross"]) - int(w["tare"]))
    assert "demo@oms.example" in proc.stdout
