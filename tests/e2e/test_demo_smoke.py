"""`oms demo --smoke`: the embedded defaults (SQLite, amqtt, child processes) end to end: a
simulated weighing makes an order (``orders.json``), then every intake channel makes one
through its real interface (``intake.json``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.services import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

CHANNELS = {"manual", "portal", "webshop", "schedule", "driver", "weighing"}


def test_demo_smoke_makes_an_order_per_intake_channel(tmp_path: Path) -> None:
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
        timeout=130,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # orders.json as before: the orders after the simulated weighings, as the API lists them.
    orders = json.loads((out / "orders.json").read_text())
    done = [o for o in orders if o["source"] == "weighing" and o["status"] == "executed"]
    assert done, orders
    assert {o["source"] for o in orders} == {"weighing"}  # written before the other channels
    w = done[0]["weighings"][0]
    assert w["tare_kind"] == "measured" and w["net"] == str(int(w["gross"]) - int(w["tare"]))

    # The logins the demo prints: the office login of old, the portal and the driver.
    assert "demo@oms.example" in proc.stdout
    assert "portaal@devries.example" in proc.stdout and "chauffeur@oms.example" in proc.stdout

    intake = json.loads((out / "intake.json").read_text())
    assert set(intake) == CHANNELS
    for channel, order in intake.items():
        assert order["source"] == channel, (channel, order)
        assert order["number"] and order["id"]
    assert len({o["id"] for o in intake.values()}) == len(CHANNELS)  # six different orders

    manual, portal, webshop = intake["manual"], intake["portal"], intake["webshop"]
    schedule, driver, weighing = intake["schedule"], intake["driver"], intake["weighing"]
    assert manual["source_ref"] is None and manual["waste_stream_id"] is not None
    assert portal["source_ref"].startswith("portal:")
    assert portal["customer_id"] == manual["customer_id"]  # the portal user's own customer
    assert webshop["source_ref"].startswith("webshop:")
    assert schedule["source_ref"].startswith("schedule:") and schedule["requested_date"]
    assert driver["source_ref"].startswith("driver:") and driver["plate"] == "72-BXL-4"
    assert driver["needs_review"] and driver["customer_id"] == manual["customer_id"]
    assert weighing["status"] == "executed" and weighing["id"] in {o["id"] for o in done}
    assert weighing["source_ref"].startswith("weighing:")
