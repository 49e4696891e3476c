"""The thin end-to-end path, real all the way: a simulated Toledo indicator and card reader on
TCP, the edge agent as a process reading them through pyserial, Mosquitto with the project's
config, ingest as a process (MQTT v5 shared subscription, ack after commit) into PostgreSQL +
TimescaleDB, and the API."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.entrypoints.app import create_app
from cloud.measurements.models import Measurement
from cloud.orders.models import Order
from cloud.settings import Settings
from tests.e2e.conftest import Procs
from tests.support.factories import create_world
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def agent_toml(tmp: Path, *, mqtt_url: str, scale: int, card: int, device_id: str) -> Path:
    path = tmp / "agent.toml"
    path.write_text(f"""
device_id = "{device_id}"
heartbeat_s = 2
[mqtt]
url = "{mqtt_url}"
protocol = "5"
[outbox]
path = "{(tmp / "outbox.db").as_posix()}"
[weighbridge]
instrument_id = "e2e-ind"
ticket_prefix = "E2E"
[[ports]]
name = "bridge"
url = "socket://127.0.0.1:{scale}"
profile = "toledo-continuous"
role = "weighbridge"
options = {{ checksum = "required" }}
[[ports]]
name = "card-reader"
url = "socket://127.0.0.1:{card}"
profile = "rfid-em4100"
role = "rfid"
""")
    return path


def test_weighing_to_order_through_mosquitto_and_timescaledb(
    pg_url: str, mosquitto, procs: Procs, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        world = create_world(s, slug="e2e", device_id="wb-e2e")

    env = {
        "OMS_DATABASE_URL": pg_url,
        "OMS_MQTT_URL": mosquitto.url,
        "OMS_INGEST_BATCH_IDLE_MS": "20",
    }
    procs.start("ingest", ["-m", "cloud.entrypoints.cli", "ingest"], env)
    scale, card = free_port(), free_port()
    procs.start(
        "simulator",
        [
            "-m",
            "edge_agent.simulate",
            "--profile",
            "toledo-continuous",
            "--listen",
            f"socket://127.0.0.1:{scale}",
            "--rfid-listen",
            f"socket://127.0.0.1:{card}",
            "--speed",
            "3",
            "--corrupt-rate",
            "0.05",
            "--cycles",
            "1",
            "--seed",
            "7",
        ],
    )
    cfg = agent_toml(tmp_path, mqtt_url=mosquitto.url, scale=scale, card=card, device_id="wb-e2e")
    procs.start("agent", ["-m", "edge_agent", "--config", str(cfg)])

    def executed() -> list[Order]:
        with factory() as s:
            return list(
                s.scalars(select(Order).where(Order.status == "executed").order_by(Order.id))
            )

    deadline = time.monotonic() + 90
    while len(executed()) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    orders = executed()
    assert len(orders) == 2, procs.log("agent") + procs.log("ingest")

    known, walk_in = orders
    assert known.customer_id == world.customer_id and not known.needs_review
    assert walk_in.needs_review and "unknown vehicle" in walk_in.review_reasons[0]

    # The API shows them, with the weights exactly as the scale showed them.
    app = create_app(Settings(environment="test", database_url=pg_url), factory)
    with TestClient(app) as client:
        page = client.get(
            "/api/v1/orders", headers={"Authorization": f"Bearer {world.token}"}
        ).json()
    nets = sorted(Decimal(o["weighings"][0]["net"]) for o in page["items"])
    assert nets == [Decimal("8880"), Decimal("18240")]
    assert {o["weighings"][0]["tare_kind"] for o in page["items"]} == {"measured"}

    # Measurements went into the hypertable too; corrupt frames never became weights.
    with factory() as s:
        n = s.scalar(select(func.count()).select_from(Measurement))
        values = set(s.scalars(select(Measurement.value).where(Measurement.value.is_not(None))))
    assert n and n > 20
    assert all(v % 20 == 0 for v in values), "a corrupt frame produced a weight off the 20 kg grid"

    # Receipts reached the agent: its outbox lets the weighings go.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with sqlite3.connect(tmp_path / "outbox.db") as db:
            left = db.execute("SELECT count(*) FROM outbox WHERE type = 'weighing'").fetchone()[0]
        if left == 0:
            break
        time.sleep(0.5)
    assert left == 0

    # The heartbeat reports the corrupt frames the agent counted and skipped.
    from cloud.devices.models import Device

    with factory() as s:
        hb = s.get(Device, "wb-e2e").last_heartbeat
    bridge = next(p for p in hb["ports"] if p["name"] == "bridge")
    assert bridge["frames_bad"] > 0 and bridge["frames_ok"] > 100
    engine.dispose()
