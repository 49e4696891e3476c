"""A driver-made order end to end, real all the way: the driver fills in "Nieuwe order" on the
truck's page (the edge agent, a process) while the cloud is out of reach; the agent is killed
with the order still in its outbox; once ingest runs, the order arrives over Mosquitto exactly
once, the receipt empties the truck's outbox, and the office sees the order flagged for review.
And the form itself in Chromium, under the page's CSP (script files only)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import add_device
from cloud.fleet.service import create_vehicle
from cloud.orders.models import Order
from protocols import decode
from tests.e2e.conftest import Procs
from tests.support import services
from tests.support.factories import create_world
from tests.support.services import free_port, wait_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


def http(url: str, body: object = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(pred: Callable[[], bool], timeout: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def test_driver_order_survives_a_kill_and_arrives_once(
    pg_url: str, mosquitto: Any, procs: Procs, tmp_path: Path
) -> None:
    factory = make_sessionmaker(make_engine(pg_url))
    with transaction(factory) as s:
        world = create_world(s, slug="trucks", device_id="wb-unused")
        truck = create_vehicle(s, tenant_id=world.tenant_id, plate="72-BXL-4")
        _, password = add_device(
            s, tenant_id=world.tenant_id, device_id="truck-7", kind="truck", vehicle_id=truck.id
        )
        truck_id = truck.id
    env = {
        "OMS_DATABASE_URL": pg_url,
        "OMS_MQTT_URL": mosquitto.url,
        "OMS_DATA_DIR": str(tmp_path / "cloud"),
    }
    page_port = free_port()
    outbox = tmp_path / "truck" / "outbox.db"
    cfg = tmp_path / "truck.toml"
    cfg.write_text(f"""
device_id = "truck-7"
terminal_listen = "127.0.0.1:{page_port}"
heartbeat_s = 2
[mqtt]
url = "{mosquitto.url}"
password = "{password}"
[outbox]
path = "{outbox.as_posix()}"
""")
    procs.start("agent", ["-m", "edge_agent", "--config", str(cfg)])
    assert wait_port(page_port, 20), procs.log("agent")
    page = f"http://127.0.0.1:{page_port}/api"

    # No ingest yet: the cloud does not answer, the order waits in the outbox.
    client_id = str(uuid.uuid4())
    form = {
        "client_order_id": client_id,
        "order_type": "container_collect",
        "customer_number": "1001",
        "address": "Havenstraat 3, Kampen",
        "postal_code": "8261 AA",
        "container_type": "20m3",
        "notes": "container staat achter de loods",
    }
    status, body = http(f"{page}/orders", form)
    assert status == 200, body
    assert http(f"{page}/orders", form)[1]["result"]["repeated"] is True  # a second tap
    _, st = http(f"{page}/state")
    assert [o["status"] for o in st["onboard"]["orders"]] == ["queued"]

    procs.stop("agent", kill=True)  # kill -9, the order only in the outbox file
    with sqlite3.connect(outbox) as db:
        rows = db.execute("SELECT type, payload FROM outbox WHERE type = 'order'").fetchall()
    assert len(rows) == 1
    message_id = decode(rows[0][1]).message_id

    procs.start("ingest", ["-m", "cloud.entrypoints.cli", "ingest"], env)
    procs.start("agent", ["-m", "edge_agent", "--config", str(cfg)])
    assert wait_port(page_port, 20), procs.log("agent")

    def order_made() -> bool:
        with factory() as s:
            return s.scalar(select(Order).where(Order.source == "driver")) is not None

    wait_for(order_made, 60, "the driver's order in the cloud" + procs.log("ingest"))

    def truck_told() -> bool:
        _, st = http(f"{page}/state")
        return st["outbox"]["backlog"] == 0 and st["onboard"]["orders"][0]["status"] == "sent"

    wait_for(truck_told, 60, "the receipt on the truck" + procs.log("agent"))
    with factory() as s:
        [order] = s.scalars(select(Order).where(Order.source == "driver")).all()
    assert order.source_ref == f"driver:{client_id}"
    assert order.order_type == "container_collect" and order.container_type == "20m3"
    assert order.customer_id == world.customer_id and order.vehicle_id == truck_id
    assert order.needs_review and order.review_reasons[0] == "made by driver on 72-BXL-4"
    assert "Havenstraat 3, Kampen, 8261 AA" in (order.notes or "")
    assert "container staat achter de loods" in (order.notes or "")
    assert order.actual_quantity_kg is None and order.expected_quantity_kg is None
    from cloud.ingest.models import IngestReceipt

    with factory() as s:
        receipt = s.get(IngestReceipt, str(message_id))
    assert receipt is not None and receipt.device_id == "truck-7"


# -- the form in a real browser -----------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        services.missing("Chromium", "not installed (deploy/dev/install-test-browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        services.missing("Playwright", "the python package is not installed")
    from tests.e2e.test_browser import CHROMIUM_ARGS

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def test_driver_fills_in_a_new_order_on_the_truck_page(browser: Any, tmp_path: Path) -> None:
    from edge_agent.agent import Agent
    from edge_agent.config import AgentConfig

    port = services.free_port()
    agent = Agent(
        AgentConfig(
            device_id="truck-1",
            terminal_listen=f"127.0.0.1:{port}",
            terminal_token="1234",
            outbox={"path": tmp_path / "o.db"},
        ),
        start_uplink=False,
    )
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        services.wait_port(port)
        page = browser.new_page(viewport={"width": 800, "height": 1400})
        refused: list[str] = []  # the CSP allows script files only: nothing may be refused
        page.on("console", lambda m: refused.append(m.text) if "Refused" in m.text else None)
        page.goto(f"http://127.0.0.1:{port}/?token=1234")
        page.click("#new-order summary")
        page.select_option("select[name=order_type]", "container_place")
        page.click("#order-send")  # neither a number nor a name: said on the page
        page.wait_for_selector("#order-msg:has-text('klantnummer of een klantnaam')")
        page.fill("input[name=customer_name]", "Bakkerij Smit")
        page.fill("input[name=address]", "Dorpsstraat 1, Hattem")
        page.fill("input[name=postal_code]", "8051 AB")
        page.fill("input[name=material]", "groenafval")
        page.fill("textarea[name=notes]", "tegen de heg")
        client_id = page.input_value("input[name=client_order_id]")
        assert uuid.UUID(client_id).version == 4
        page.click("#order-send")
        page.wait_for_selector("#order-msg:has-text('Order opgeslagen')")
        page.wait_for_selector("#orders li:has-text('Bakkerij Smit')")
        assert "in wachtrij" in page.inner_text("#orders")
        assert page.input_value("input[name=customer_name]") == ""  # a fresh form
        assert page.input_value("input[name=client_order_id]") not in ("", client_id)
        page.screenshot(path=str(tmp_path / "driver-new-order.png"))
        [pending] = agent.outbox.pending(limit=10)
        msg = decode(pending.payload)
        assert str(msg.client_order_id) == client_id  # type: ignore[attr-defined]
        assert msg.customer_name == "Bakkerij Smit" and msg.customer_number is None  # type: ignore[attr-defined]
        assert msg.material == "groenafval" and msg.notes == "tegen de heg"  # type: ignore[attr-defined]
        assert not refused, refused
    finally:
        agent.stop()
        runner.join(timeout=10)
