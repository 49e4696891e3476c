"""Driver-made orders in ingest (SQLite and PostgreSQL): made on the truck's vehicle with source
``driver``, always flagged for the office, exactly once however often the message comes; only a
truck may send one. And the whole way with a real broker: the truck's form, its outbox,
Mosquitto, the ingest worker, the receipt."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.containers.models import Container
from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.db import transaction, utcnow
from cloud.devices.service import create_device
from cloud.fleet.service import create_vehicle
from cloud.ingest.models import DeadLetter, IngestReceipt
from cloud.ingest.mqtt import parse_mqtt_url
from cloud.ingest.runner import ingest_batch
from cloud.ingest.worker import IngestConfig, IngestWorker
from cloud.materials.models import Material
from cloud.orders.models import Order, OrderStatusChange, OrderType
from cloud.tenancy.service import create_tenant
from protocols import DRIVER_ORDER_TYPES, OrderRequest, Receipt, decode, encode, up_topic
from tests.support.factories import incoming

pytestmark = pytest.mark.integration
PLATE = "72-BXL-4"


@dataclass
class Truck:
    tenant_id: int
    customer_id: int
    site_id: int
    vehicle_id: int
    material_id: int
    container_id: int


def make_truck(session: Session, *, slug: str = "acme", device_id: str = "truck-7") -> Truck:
    tenant = create_tenant(session, slug=slug, name=f"{slug} B.V.")
    customer = create_customer(session, tenant_id=tenant.id, number="1001", name="De Vries Bouw")
    other = create_customer(session, tenant_id=tenant.id, number="1002", name="Jansen")
    sites = [
        Site(
            tenant_id=tenant.id,
            name="bouwplaats",
            customer_id=customer.id,
            street="Industrieweg 14",
            postal_code="8011AB",
            city="Zwolle",
        ),
        Site(tenant_id=tenant.id, name="kantoor", customer_id=customer.id, postal_code="1000AA"),
        Site(tenant_id=tenant.id, name="jansen", customer_id=other.id, postal_code="8011AB"),
    ]
    material = Material(tenant_id=tenant.id, code="170904", description="Gemengd bouwafval")
    container = Container(tenant_id=tenant.id, number="C-0042", container_type="10m3")
    session.add_all([*sites, material, container])
    session.flush()
    vehicle = create_vehicle(session, tenant_id=tenant.id, plate=PLATE)  # our own truck
    create_device(
        session, tenant_id=tenant.id, device_id=device_id, kind="truck", vehicle_id=vehicle.id
    )
    create_device(session, tenant_id=tenant.id, device_id=f"wb-{slug}", kind="weighbridge")
    return Truck(tenant.id, customer.id, sites[0].id, vehicle.id, material.id, container.id)


def order_request(device_id: str = "truck-7", *, seq: int = 1, **over: Any) -> OrderRequest:
    fields: dict[str, Any] = {
        "client_order_id": uuid.uuid4(),
        "order_type": "container_place",
        "customer_number": "1001",
        "address": "Industrieweg 14, Zwolle",
        "postal_code": "8011 ab",
        "material": "170904",
        "requested_date": date(2026, 11, 28),
        "reference": "PO-7781",
        "notes": "naast de poort",
    }
    fields.update(over)
    return OrderRequest(
        message_id=uuid.uuid4(),
        device_id=device_id,
        seq=seq,
        occurred_at=utcnow() - timedelta(minutes=1),
        **fields,
    )


@pytest.fixture
def truck(factory: sessionmaker[Session]) -> Truck:
    with transaction(factory) as s:
        return make_truck(s)


def orders(factory: sessionmaker[Session]) -> list[Order]:
    with factory() as s:
        return list(s.scalars(select(Order).order_by(Order.id)))


def test_the_contract_offers_the_cloud_s_order_types_but_walk_in() -> None:
    assert set(DRIVER_ORDER_TYPES) == {t.value for t in OrderType} - {OrderType.WALK_IN.value}


def test_a_driver_order_becomes_an_order_on_the_truck_flagged_for_review(
    factory: sessionmaker[Session], truck: Truck
) -> None:
    msg = order_request()
    out = ingest_batch(factory, [incoming(msg)])
    assert out.committed == {"truck-7": [msg.message_id]} and out.dead == 0
    [order] = orders(factory)
    assert (order.source, order.source_ref) == ("driver", f"driver:{msg.client_order_id}")
    assert order.status == "created" and order.order_type == "container_place"
    assert order.customer_id == truck.customer_id and order.site_id == truck.site_id
    assert order.vehicle_id == truck.vehicle_id
    assert order.material == "Gemengd bouwafval"
    if hasattr(order, "material_id") and "material_id" in _order_create_fields():
        assert order.material_id == truck.material_id
    assert order.requested_date == date(2026, 11, 28) and order.reference == "PO-7781"
    assert order.needs_review and order.review_reasons == [f"made by driver on {PLATE}"]
    assert order.notes == "naast de poort"
    # never a weight: nothing was weighed
    assert order.expected_quantity_kg is None and order.actual_quantity_kg is None
    with factory() as s:
        [created] = s.scalars(select(OrderStatusChange))
    assert (created.to_status, created.by_device_id) == ("created", "truck-7")


def _order_create_fields() -> set[str]:
    from cloud.orders.schemas import OrderCreate

    return set(OrderCreate.model_fields)


def test_delivered_twice_it_is_one_order_and_both_are_receipted(
    factory: sessionmaker[Session], truck: Truck
) -> None:
    msg = order_request()
    first = ingest_batch(factory, [incoming(msg), incoming(msg)])  # twice in one batch
    again = ingest_batch(factory, [incoming(msg)])  # and once more later (a lost receipt)
    assert first.stored == 1 and first.duplicates == 1
    assert again.stored == 0 and again.duplicates == 1
    assert again.committed == {"truck-7": [msg.message_id]}  # the truck may drop it now
    assert len(orders(factory)) == 1


def test_an_unknown_customer_is_booked_on_the_cash_customer_and_flagged(
    factory: sessionmaker[Session], truck: Truck
) -> None:
    unknown = order_request(customer_number="9999", customer_name="Bakker", seq=1)
    by_name = order_request(customer_number=None, customer_name="Pietersen", seq=2)
    ingest_batch(factory, [incoming(unknown), incoming(by_name)])
    a, b = orders(factory)
    with factory() as s:
        from cloud.customers.models import Customer

        cash = s.scalars(select(Customer).where(Customer.is_cash.is_(True))).one()
    assert a.customer_id == cash.id == b.customer_id
    assert a.site_id is None and b.site_id is None
    assert a.review_reasons == [
        f"made by driver on {PLATE}",
        "unknown customer (driver wrote number '9999', name 'Bakker'): booked on the cash customer",
    ]
    assert b.review_reasons[1] == (
        "customer not identified (driver wrote name 'Pietersen'): booked on the cash customer"
    )
    assert a.notes == (
        "Customer (driver): Bakker\nAddress (driver): Industrieweg 14, Zwolle, 8011 ab\n"
        "naast de poort"
    )


def test_unmatched_place_material_and_container_are_kept_as_the_driver_s_text(
    factory: sessionmaker[Session], truck: Truck
) -> None:
    msg = order_request(
        postal_code="9999 ZZ",
        material="puin met hout",
        container_number="C-7777",
        notes=None,
    )
    known = order_request(seq=2, container_number="C-0042", material=None)
    ingest_batch(factory, [incoming(msg), incoming(known)])
    a, b = orders(factory)
    assert a.site_id is None and a.material == "puin met hout"
    assert a.review_reasons[1:] == [
        "address not matched to a site of customer 1001",
        "container 'C-7777' unknown",
    ]
    assert "Address (driver): Industrieweg 14, Zwolle, 9999 ZZ" in (a.notes or "")
    assert "Container (driver): C-7777" in (a.notes or "")
    assert b.container_type == "10m3" and b.review_reasons == [f"made by driver on {PLATE}"]
    if "container_id" in _order_create_fields():
        assert b.container_id == truck.container_id


def test_only_a_truck_may_send_one(factory: sessionmaker[Session], truck: Truck) -> None:
    msg = order_request("wb-acme")
    out = ingest_batch(factory, [incoming(msg)])
    assert out.dead == 1 and out.stored == 0 and orders(factory) == []
    [rejected] = out.rejected["wb-acme"]
    assert rejected.message_id == msg.message_id and rejected.reason.startswith("not_a_truck:")
    with factory() as s:
        [dead] = s.scalars(select(DeadLetter))
        receipts = s.scalar(select(func.count()).select_from(IngestReceipt))
    assert dead.reason == "not_a_truck" and dead.device_id == "wb-acme"
    assert "weighbridge" in dead.detail and receipts == 0


def test_another_tenant_s_customer_number_is_not_theirs(
    factory: sessionmaker[Session], truck: Truck
) -> None:
    with transaction(factory) as s:
        make_truck(s, slug="globex", device_id="truck-globex")
    ingest_batch(factory, [incoming(order_request("truck-globex"))])
    [order] = orders(factory)
    with factory() as s:
        from cloud.customers.models import Customer

        customer = s.get(Customer, order.customer_id)
        assert customer is not None
    assert customer.tenant_id == order.tenant_id != truck.tenant_id
    assert customer.number == "1001"  # globex's own 1001, never acme's


# -- the whole way with a real broker -----------------------------------------------------------


def wait(pred: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def post(port: int, path: str, body: object) -> tuple[int, Any]:
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(), method="POST"
    )
    req.add_header("Content-Type", "application/json")
    req.add_header("X-Terminal-Token", "s3cret")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.mark.timeout(90)
def test_form_outbox_broker_ingest_order_exactly_once(
    factory: sessionmaker[Session], truck: Truck, mosquitto: Any, tmp_path: Path
) -> None:
    from edge_agent.agent import Agent
    from edge_agent.config import AgentConfig

    worker = IngestWorker(
        IngestConfig(address=parse_mqtt_url(mosquitto.url), client_id="ingest-driver"), factory
    )
    worker.start()
    assert worker.wait_ready()
    ingest = threading.Thread(target=worker.run, daemon=True)
    ingest.start()
    # A listener on the truck's topics: what the truck sent, and the receipts it got.
    seen: list[tuple[str, bytes]] = []
    spy = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id="spy", protocol=mqtt.MQTTv5
    )
    spy.on_message = lambda _c, _u, m: seen.append((m.topic, bytes(m.payload)))
    addr = parse_mqtt_url(mosquitto.url)
    spy.connect(addr.host, addr.port)
    spy.subscribe("oms/v1/truck-7/#", qos=1)
    spy.loop_start()
    agent = Agent(
        AgentConfig(
            device_id="truck-7",
            terminal_listen="127.0.0.1:0",
            terminal_token="s3cret",
            heartbeat_s=60,
            mqtt={"url": mosquitto.url},
            outbox={"path": tmp_path / "truck" / "o.db"},
        )
    )
    runner = threading.Thread(target=agent.run, daemon=True)
    runner.start()
    try:
        assert wait(lambda: agent.terminal is not None)
        client_id = str(uuid.uuid4())
        form = {
            "client_order_id": client_id,
            "order_type": "container_exchange",
            "customer_number": "1001",
            "postal_code": "8011 AB",
            "material": "170904",
            "notes": "klant vroeg om een wissel",
        }
        status, body = post(agent.terminal.port, "/api/orders", form)
        assert status == 200, body
        assert post(agent.terminal.port, "/api/orders", form)[1]["result"]["repeated"] is True

        assert wait(lambda: len(orders(factory)) == 1), worker.stats
        assert wait(lambda: agent.outbox.stats().backlog == 0), "no receipt reached the truck"
        [order] = orders(factory)
        assert (order.source, order.source_ref) == ("driver", f"driver:{client_id}")
        assert order.order_type == "container_exchange" and order.site_id == truck.site_id
        assert order.vehicle_id == truck.vehicle_id and order.needs_review
        assert agent.call(lambda: agent.driver_orders.recent())[0]["status"] == "sent"  # type: ignore[union-attr]

        # The broker delivers the same message again (a redelivery after a lost PUBACK): one
        # order still, and the truck is told again that it is committed.
        sent = [p for t, p in seen if t == up_topic("truck-7", "order")]
        assert len(sent) == 1
        msg = decode(sent[0])

        def receipted_times() -> int:
            return sum(
                1
                for t, p in seen
                if t.endswith("/down/receipt")
                and msg.message_id in (r := decode(p)).committed  # type: ignore[attr-defined]
                and isinstance(r, Receipt)
            )

        assert wait(lambda: receipted_times() == 1)
        spy.publish(up_topic("truck-7", "order"), sent[0], qos=1).wait_for_publish(5)
        assert wait(lambda: receipted_times() == 2), worker.stats
        assert len(orders(factory)) == 1
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
        # And a weighbridge sending an order gets it rejected, never made.
        wb = order_request("wb-acme")
        spy.publish(up_topic("wb-acme", "order"), encode(wb), qos=1).wait_for_publish(5)

        def dead_lettered() -> bool:
            with factory() as s:
                return s.scalar(select(DeadLetter.reason)) == "not_a_truck"

        assert wait(dead_lettered), worker.stats
        assert len(orders(factory)) == 1
    finally:
        agent.stop()
        runner.join(timeout=10)
        spy.loop_stop()
        spy.disconnect()
        worker.stop()
        ingest.join(timeout=10)
