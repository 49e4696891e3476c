"""Reliability, sized for CI: kill -9 the edge agents 20 times while the simulator streams and
weighings and deliveries happen, and stop the broker for a while. Afterwards every weighing
ticket and every proof of delivery is in the database exactly once, and every device's seq
has no gaps. Counts are reported the way Jepsen's queue checker does."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import add_device
from cloud.ingest.models import IngestReceipt
from cloud.jobs.models import ProofOfDelivery
from cloud.jobs.service import dispatch_order
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order
from cloud.weighings.models import Weighing
from tests.e2e.conftest import Procs
from tests.support.factories import create_world
from tests.support.services import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
KILLS = 20
JOBS = 8


def post(url: str, body: object) -> int:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return 0  # the agent is down: try again


def drive(page_port: int, jobs: list[str], stop: threading.Event, done: list[str]) -> None:
    """A driver who keeps pressing until each job is through, whatever the agent is doing."""
    for job in jobs:
        for step, body in [
            ("arrive", {}),
            ("start", {}),
            ("weight", {"manual": "1000"}),
            ("sign", {"signer": "X", "strokes": [[[0.1, 0.1], [0.9, 0.9]]]}),
            ("complete", {}),
        ]:
            while not stop.is_set():
                code = post(f"http://127.0.0.1:{page_port}/api/jobs/{job}/{step}", body)
                if code in (200, 422):  # 422: done before the crash (e.g. already arrived)
                    break
                time.sleep(0.2)
        done.append(job)


def outbox_state(path: Path) -> tuple[int, int, int]:
    """(backlog, last seq, tickets made) read straight from the agent's file."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        backlog = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    tickets = sum(v for k, v in meta.items() if k.startswith("ticket:"))
    return backlog, meta.get("seq", 0), tickets


def test_kill_9_agents_and_stop_the_broker(
    pg_url: str, mosquitto, procs: Procs, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261127)
    factory = make_sessionmaker(make_engine(pg_url))
    with transaction(factory) as s:
        world = create_world(s, slug="chaos", device_id="wb-chaos")
        _, truck_pw = add_device(
            s,
            tenant_id=world.tenant_id,
            device_id="truck-chaos",
            kind="truck",
            vehicle_id=world.vehicle_id,
        )
        numbers = []
        for _ in range(JOBS):
            o = create_order(
                s,
                tenant_id=world.tenant_id,
                source="manual",
                by_user_id=world.user_id,
                data=OrderCreate(
                    customer_id=world.customer_id,
                    order_type="container_collect",
                    vehicle_id=world.vehicle_id,
                ),
            )
            dispatch_order(s, tenant_id=world.tenant_id, order_id=o.id, by_user_id=world.user_id)
            numbers.append(o.number)

    env = {
        "OMS_DATABASE_URL": pg_url,
        "OMS_MQTT_URL": mosquitto.url,
        "OMS_INGEST_BATCH_IDLE_MS": "10",
    }
    procs.start("ingest", ["-m", "cloud.entrypoints.cli", "ingest"], env)
    scale, card, page = free_port(), free_port(), free_port()
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
            "4",
            "--seed",
            "3",
            "--no-wait",
        ],
    )
    wb_outbox, truck_outbox = tmp_path / "wb" / "outbox.db", tmp_path / "truck" / "outbox.db"
    (tmp_path / "wb.toml").write_text(f"""
device_id = "wb-chaos"
heartbeat_s = 1
[mqtt]
url = "{mosquitto.url}"
protocol = "5"
[outbox]
path = "{wb_outbox.as_posix()}"
resend_after_s = 5
[[ports]]
name = "bridge"
url = "socket://127.0.0.1:{scale}"
profile = "toledo-continuous"
role = "weighbridge"
[[ports]]
name = "card-reader"
url = "socket://127.0.0.1:{card}"
profile = "rfid-em4100"
role = "rfid"
""")
    (tmp_path / "truck.toml").write_text(f"""
device_id = "truck-chaos"
terminal_listen = "127.0.0.1:{page}"
heartbeat_s = 1
[mqtt]
url = "{mosquitto.url}"
password = "{truck_pw}"
protocol = "5"
[outbox]
path = "{truck_outbox.as_posix()}"
resend_after_s = 5
""")
    agents = {
        "wb": ["-m", "edge_agent", "--config", str(tmp_path / "wb.toml")],
        "truck": ["-m", "edge_agent", "--config", str(tmp_path / "truck.toml")],
    }
    for name, args in agents.items():
        procs.start(name, args)

    stop = threading.Event()
    driven: list[str] = []
    driver = threading.Thread(target=drive, args=(page, numbers, stop, driven), daemon=True)
    time.sleep(2)
    driver.start()
    kills = {"wb": 0, "truck": 0}
    try:
        for i in range(KILLS):
            time.sleep(rng.uniform(1.5, 3.0))
            for name in agents:
                procs.stop(name, kill=True)
                kills[name] += 1
            if i == KILLS // 2:
                mosquitto.stop()  # the broker is gone for a while; agents keep weighing offline
                time.sleep(4)
                mosquitto.start()
            time.sleep(rng.uniform(0.0, 1.0))
            for name, args in agents.items():
                procs.start(name, args)
        driver.join(timeout=60)
        assert driven == numbers, f"driver got through {len(driven)} of {JOBS} jobs"

        # Let everything drain: both outboxes empty, ingest caught up.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if outbox_state(wb_outbox)[0] == 0 and outbox_state(truck_outbox)[0] == 0:
                break
            time.sleep(0.5)
    finally:
        stop.set()

    wb_backlog, wb_seq, tickets = outbox_state(wb_outbox)
    truck_backlog, truck_seq, _ = outbox_state(truck_outbox)
    with factory() as s:
        weighings = s.scalars(select(Weighing.ticket_number)).all()
        pods = s.execute(
            select(ProofOfDelivery.order_id, func.count()).group_by(ProofOfDelivery.order_id)
        ).all()
        executed = s.scalar(
            select(func.count()).select_from(Order).where(Order.status == "executed")
        )
        seqs = {
            d: sorted(s.scalars(select(IngestReceipt.seq).where(IngestReceipt.device_id == d)))
            for d in ("wb-chaos", "truck-chaos")
        }
    report = {
        "kills": kills,
        "weighings": {
            "attempted": tickets,
            "acknowledged": tickets - wb_backlog,
            "stored": len(weighings),
            "lost": tickets - len(set(weighings)),
            "duplicated": len(weighings) - len(set(weighings)),
        },
        "pods": {
            "attempted": JOBS,
            "stored": sum(n for _, n in pods),
            "duplicated": sum(n - 1 for _, n in pods if n > 1),
        },
        "seq": {"wb-chaos": wb_seq, "truck-chaos": truck_seq},
    }
    print(json.dumps(report))
    assert wb_backlog == 0 and truck_backlog == 0, report
    assert tickets >= 2, f"too few weighings happened to mean anything: {report}"
    expected_tickets = {f"WB-{n:06d}" for n in range(1, tickets + 1)}
    assert sorted(weighings) == sorted(expected_tickets), report  # each exactly once, none lost
    assert len(pods) == JOBS and all(n == 1 for _, n in pods), report
    assert executed >= JOBS
    for device, last in (("wb-chaos", wb_seq), ("truck-chaos", truck_seq)):
        assert seqs[device] == list(range(1, last + 1)), f"{device}: seq gaps or duplicates"
