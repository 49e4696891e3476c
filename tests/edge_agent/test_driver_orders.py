"""The driver's "Nieuwe order" form: validated on the truck, committed to the durable outbox once
per client order id, listed with where its message is; served by the local page without inline
script."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.clock import FakeClock
from edge_agent.config import AgentConfig
from edge_agent.outbox import Outbox
from edge_agent.workflows.driver_orders import FIELDS, DriverOrders, OrderFormError
from protocols import OrderRequest, Rejection, decode

pytestmark = pytest.mark.unit
CLIENT_ID = "0b6f3c1e-2d4a-4f5b-8c7d-9e0f1a2b3c4d"


def form(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "client_order_id": CLIENT_ID,
        "order_type": "container_place",
        "customer_number": "1001",
        "customer_name": "",
        "address": "Industrieweg 14, Zwolle",
        "postal_code": "8011 AB",
        "material": "170904",
        "container_number": "",
        "requested_date": "2026-11-28",
        "notes": "naast de poort",
    }
    data.update(over)
    return data


@pytest.fixture
def orders(tmp_path: Path) -> DriverOrders:
    return DriverOrders(outbox=Outbox(tmp_path / "o.db"), device_id="truck-1", clock=FakeClock())


def queued(box: Outbox) -> list[OrderRequest]:
    msgs = [decode(p.payload) for p in box.pending(limit=100)]
    assert all(isinstance(m, OrderRequest) for m in msgs)
    return msgs  # type: ignore[return-value]


def test_the_form_becomes_one_order_message_in_the_outbox(orders: DriverOrders) -> None:
    out = orders.submit(form())
    assert out["repeated"] is False and out["client_order_id"] == CLIENT_ID
    [msg] = queued(orders.outbox)
    assert (msg.seq, msg.device_id, str(msg.message_id)) == (1, "truck-1", out["message_id"])
    assert str(msg.client_order_id) == CLIENT_ID
    assert msg.order_type == "container_place" and msg.customer_number == "1001"
    assert msg.customer_name is None and msg.container_number is None  # empty fields: absent
    assert msg.requested_date == date(2026, 11, 28) and msg.notes == "naast de poort"
    assert msg.occurred_at == orders.clock.now()


def test_the_same_form_sent_twice_is_stored_once(orders: DriverOrders) -> None:
    first = orders.submit(form())
    again = orders.submit(form(notes="tweede tik"))
    assert again["repeated"] is True and again["message_id"] == first["message_id"]
    assert len(queued(orders.outbox)) == 1
    other = orders.submit(form(client_order_id=str(uuid.uuid4())))
    assert other["message_id"] != first["message_id"]
    assert [m.seq for m in queued(orders.outbox)] == [1, 2]


def test_without_a_client_id_the_truck_makes_one(orders: DriverOrders) -> None:
    out = orders.submit(form(client_order_id=None))
    assert uuid.UUID(out["client_order_id"]).version == 4


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"customer_number": "", "customer_name": " "}, "customer number or a name"),
        ({"order_type": "walk_in"}, "order_type"),
        ({"order_type": ""}, "order_type"),
        ({"client_order_id": "abc"}, "client_order_id"),
        ({"client_order_id": 7}, "client_order_id"),
        ({"requested_date": "2026-11-20"}, "in the past"),
        ({"requested_date": "morgen"}, "requested_date"),
        ({"notes": "x" * 1001}, "notes"),
        ({"customer_number": 1001}, "customer_number: expected text"),
        ({"gross_kg": "18000"}, "unknown field"),
    ],
    ids=lambda v: v if isinstance(v, str) else next(iter(v)),
)
def test_a_bad_form_is_refused_and_takes_no_seq(
    orders: DriverOrders, over: dict[str, Any], match: str
) -> None:
    with pytest.raises(OrderFormError, match=match):
        orders.submit(form(**over))
    assert orders.outbox.last_seq() == 0 and orders.recent() == []


def test_orders_survive_a_restart_and_show_where_they_are(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    first = DriverOrders(outbox=Outbox(path), device_id="truck-1", clock=FakeClock())
    a = first.submit(form())
    b = first.submit(form(client_order_id=str(uuid.uuid4()), customer_number="2002"))
    c = first.submit(form(client_order_id=str(uuid.uuid4()), customer_number="3003"))
    first.outbox.close()  # the truck is switched off

    box = Outbox(path)
    again = DriverOrders(outbox=box, device_id="truck-1", clock=FakeClock())
    assert [str(m.message_id) for m in queued(box)] == [
        a["message_id"],
        b["message_id"],
        c["message_id"],
    ]
    assert {o["status"] for o in again.recent()} == {"queued"}
    box.acknowledge([a["message_id"]])
    box.reject([Rejection(message_id=uuid.UUID(b["message_id"]), reason="not_a_truck: ...")])
    shown = {o["customer"]: (o["status"], o["reason"]) for o in again.recent()}
    assert shown == {
        "1001": ("sent", None),
        "2002": ("rejected", "not_a_truck: ..."),
        "3003": ("queued", None),
    }
    assert again.submit(form())["repeated"] is True  # still known after the restart


# -- the local page --------------------------------------------------------------------------


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    cfg = AgentConfig(
        device_id="truck-1",
        terminal_listen="127.0.0.1:0",
        terminal_token="s3cret",
        outbox={"path": tmp_path / "o.db"},
    )
    a = Agent(cfg, start_uplink=False)
    runner = threading.Thread(target=a.run, daemon=True)
    runner.start()
    for _ in range(200):
        if a.terminal is not None:
            break
        threading.Event().wait(0.02)
    yield a
    a.stop()
    runner.join(timeout=10)


def call(agent: Agent, path: str, body: object = None, token: str = "s3cret") -> tuple[int, Any]:
    url = f"http://127.0.0.1:{agent.terminal.port}{path}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data is not None else "GET")
    req.add_header("Content-Type", "application/json")
    req.add_header("X-Terminal-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_page_posts_the_form_and_lists_the_order(agent: Agent) -> None:
    assert call(agent, "/api/orders", form(), token="wrong")[0] == 401
    status, body = call(agent, "/api/orders", form(customer_number="", customer_name=""))
    assert status == 422 and "customer" in body["detail"]
    status, body = call(agent, "/api/orders", [1, 2])
    assert status == 422
    # (the agent runs on the system clock: no requested date that could lie in the past)
    status, body = call(agent, "/api/orders", form(requested_date=""))
    assert status == 200 and body["result"]["client_order_id"] == CLIENT_ID, body
    assert call(agent, "/api/orders", form(requested_date=""))[1]["result"]["repeated"] is True
    status, st = call(agent, "/api/state")
    assert st["outbox"]["backlog"] == 1
    [shown] = st["onboard"]["orders"]
    assert shown["status"] == "queued" and shown["customer"] == "1001"
    assert shown["address"] == "Industrieweg 14, Zwolle 8011 AB"


def test_the_page_has_the_form_and_runs_script_files_only(agent: Agent) -> None:
    base = f"http://127.0.0.1:{agent.terminal.port}"
    with urllib.request.urlopen(f"{base}/", timeout=5) as resp:
        csp = resp.headers["Content-Security-Policy"]
        html = resp.read().decode()
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script
    assert not re.search(r"\son[a-z]+=", html) and "style=" not in html  # nor handlers/styles
    assert 'id="order-form"' in html and "Nieuwe order" in html
    form_html = html[html.index('id="order-form"') : html.index("</form>")]
    names = set(re.findall(r'name="([a-z_]+)"', form_html))
    assert names == {"client_order_id", *FIELDS}
    with urllib.request.urlopen(f"{base}/driver.js", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/javascript")
        js = resp.read().decode()
    assert '"/api/orders"' in js and "getRandomValues" in js


def test_the_weighbridge_page_runs_script_files_only() -> None:
    static = Path(__file__).resolve().parents[2] / "edge_agent" / "static"
    for page in static.glob("*.html"):
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        for src in re.findall(r'<script src="/([^"]+)"', html):
            assert (static / src).is_file(), src
