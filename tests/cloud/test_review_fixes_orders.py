"""Review fixes of issue 9 (orders and intake): a changed order's job follows it to the truck,
a driver's order is flagged (never refused) for a container recorded elsewhere, the newest
audit rows are kept, one first webhook secret, webshop customer numbers that are free,
idempotent manual orders (API header and web form), shared date bounds, and no review notes
for customers and drivers."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit import service as audit
from cloud.audit.models import FieldChange
from cloud.containers.models import Container
from cloud.customers.models import Customer, Site
from cloud.customers.service import create_customer
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import create_device
from cloud.entrypoints.app import create_app
from cloud.fleet.service import create_vehicle
from cloud.ingest.runner import ingest_batch
from cloud.intake import repository as intake_repository
from cloud.intake import service as intake
from cloud.intake.models import WebhookSecret
from cloud.jobs.models import JobAssignment
from cloud.jobs.service import dispatch_order
from cloud.migrations import upgrade
from cloud.numbering.service import next_number
from cloud.orders import service as orders
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate, OrderUpdate
from cloud.orders.validation import DateBounds
from cloud.outbox.models import OutboxJob
from cloud.settings import Settings
from cloud.tenancy.service import create_tenant
from protocols import JobDispatch, decode
from tests.cloud.test_driver_orders import make_truck, order_request
from tests.cloud.test_orders_full import OrdersWorld, make_world
from tests.cloud.test_webhook import deliver, payload
from tests.support.factories import create_world, incoming

pytestmark = pytest.mark.integration
WINDOW = datetime(2026, 12, 14, 8, tzinfo=UTC)


@pytest.fixture
def client(factory: sessionmaker[Session], db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


# -- 1. a changed order's job follows it to the truck ------------------------------------------


@pytest.fixture
def trucks(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Two trucks on two vehicles, and an order on the first, dispatched to it."""
    with transaction(factory) as s:
        w = create_world(s)
        create_device(
            s, tenant_id=w.tenant_id, device_id="truck-1", kind="truck", vehicle_id=w.vehicle_id
        )
        second = create_vehicle(s, tenant_id=w.tenant_id, plate="BX-456-Z")
        create_device(
            s, tenant_id=w.tenant_id, device_id="truck-2", kind="truck", vehicle_id=second.id
        )
        bare = create_vehicle(s, tenant_id=w.tenant_id, plate="BX-789-Z")  # no device
        order = orders.create_order(
            s,
            tenant_id=w.tenant_id,
            source="manual",
            data=OrderCreate(
                customer_id=w.customer_id,
                order_type="container_place",
                vehicle_id=w.vehicle_id,
                site_id=w.site_id,
            ),
        )
        dispatch_order(s, tenant_id=w.tenant_id, order_id=order.id, by_user_id=w.user_id)
        return {
            "tenant_id": w.tenant_id,
            "user_id": w.user_id,
            "order_id": order.id,
            "number": order.number,
            "first": w.vehicle_id,
            "second": second.id,
            "bare": bare.id,
        }


def change(factory: sessionmaker[Session], t: dict[str, Any], **fields: Any) -> None:
    with transaction(factory) as s:
        orders.update_order(
            s,
            tenant_id=t["tenant_id"],
            order_id=t["order_id"],
            data=OrderUpdate(**fields),
            roles=["planner"],
            by_user_id=t["user_id"],
        )


def sent(factory: sessionmaker[Session]) -> list[JobDispatch]:
    with factory() as s:
        rows = s.scalars(select(OutboxJob).order_by(OutboxJob.id))
        return [m for m in (decode(r.payload) for r in rows) if isinstance(m, JobDispatch)]


def test_a_changed_window_is_sent_again_with_a_higher_revision(
    factory: sessionmaker[Session], trucks: dict[str, Any]
) -> None:
    [first] = sent(factory)
    assert first.job is not None
    change(factory, trucks, window_start=WINDOW, window_end=WINDOW + timedelta(hours=2))
    jobs = sent(factory)
    assert [(m.device_id, m.action) for m in jobs] == [("truck-1", "upsert")] * 2
    again = jobs[1].job
    assert again is not None and again.revision > first.job.revision
    assert again.window_start == WINDOW and again.job_id == trucks["number"]
    # A field the job does not carry sends nothing.
    change(factory, trucks, reference="PO-9")
    assert len(sent(factory)) == 2


def test_another_vehicle_withdraws_the_job_and_sends_it_to_that_truck(
    factory: sessionmaker[Session], trucks: dict[str, Any]
) -> None:
    change(factory, trucks, vehicle_id=trucks["second"])
    assert [(m.device_id, m.action) for m in sent(factory)] == [
        ("truck-1", "upsert"),
        ("truck-1", "cancel"),
        ("truck-2", "upsert"),
    ]
    with factory() as s:
        rows = {a.device_id: a for a in s.scalars(select(JobAssignment))}
    assert rows["truck-1"].withdrawn_at is not None and rows["truck-2"].withdrawn_at is None


@pytest.mark.parametrize("vehicle", ["bare", None])
def test_no_vehicle_or_one_without_a_truck_withdraws_the_job(
    factory: sessionmaker[Session], trucks: dict[str, Any], vehicle: str | None
) -> None:
    change(factory, trucks, vehicle_id=trucks[vehicle] if vehicle else None)
    assert [(m.device_id, m.action) for m in sent(factory)] == [
        ("truck-1", "upsert"),
        ("truck-1", "cancel"),
    ]
    with factory() as s:
        assert s.scalars(select(JobAssignment.withdrawn_at)).one() is not None
        assert s.get(Order, trucks["order_id"]).status == "planned"  # type: ignore[union-attr]


# -- 2. a driver's order for a container recorded elsewhere ------------------------------------


def test_a_driver_order_for_a_container_recorded_elsewhere_is_flagged(
    factory: sessionmaker[Session],
) -> None:
    with transaction(factory) as s:
        truck = make_truck(s)
        elsewhere = Site(tenant_id=truck.tenant_id, name="elders", customer_id=truck.customer_id)
        s.add(elsewhere)
        s.flush()
        container = s.get(Container, truck.container_id)
        assert container is not None
        container.location_kind, container.site_id = "site", elsewhere.id
    msg = order_request(order_type="container_collect", container_number="C-0042")
    out = ingest_batch(factory, [incoming(msg)])
    assert out.dead == 0 and out.stored == 1
    with factory() as s:
        order = s.scalars(select(Order)).one()
    assert order.site_id == truck.site_id and order.container_id == truck.container_id
    assert order.needs_review
    assert any("C-0042 stands at elders" in r for r in order.review_reasons), order.review_reasons


# -- 3. the newest audit rows ------------------------------------------------------------------


def test_history_keeps_the_newest_changes_in_time_order(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as s:
        tenant_id = create_tenant(s, slug="acme", name="Acme").id
        audit.record_rows(
            s,
            [
                {
                    "tenant_id": tenant_id,
                    "entity": "order",
                    "entity_id": 7,
                    "field": "notes",
                    "old_value": str(i - 1),
                    "new_value": str(i),
                    "at": WINDOW + timedelta(seconds=i),
                }
                for i in range(1, 13)
            ],
        )
    with factory() as s:
        rows = audit.history(s, tenant_id=tenant_id, entity="order", entity_id=7, limit=5)
        everything = audit.history(s, tenant_id=tenant_id, entity="order", entity_id=7)
    assert [r.new_value for r in rows] == ["8", "9", "10", "11", "12"]
    assert [r.new_value for r in everything] == [str(i) for i in range(1, 13)]


# -- 4. one first webhook secret ---------------------------------------------------------------


def test_taking_the_current_secrets_locks_the_tenant_first(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    locked: list[int] = []
    monkeypatch.setattr(
        intake_repository, "lock_tenant", lambda session, *, tenant_id: locked.append(tenant_id)
    )
    with transaction(factory) as s:
        tenant_id = create_tenant(s, slug="acme", name="Acme").id
        intake.ensure_secret(s, tenant_id=tenant_id)
    assert locked == [tenant_id]


def test_two_first_secrets_at_once_make_one(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=4)
    factory = make_sessionmaker(engine)
    try:
        with transaction(factory) as s:
            tenant_id = create_tenant(s, slug="acme", name="Acme").id
        first_session = factory()
        first = intake.ensure_secret(first_session, tenant_id=tenant_id)
        result: dict[str, str] = {}

        def second() -> None:
            with transaction(factory) as s:
                result["secret"] = intake.ensure_secret(s, tenant_id=tenant_id)

        thread = threading.Thread(target=second)
        thread.start()
        _wait_for_lock_wait(factory, thread)
        first_session.commit()
        first_session.close()
        thread.join(timeout=30)
        assert not thread.is_alive()
        assert result["secret"] == first
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(WebhookSecret)) == 1
    finally:
        engine.dispose()


def _wait_for_lock_wait(
    factory: sessionmaker[Session], thread: threading.Thread, timeout: float = 5.0
) -> None:
    """Until some backend waits for a lock, or the thread is done (it did not wait)."""
    deadline = time.monotonic() + timeout
    with factory() as s:
        while time.monotonic() < deadline and thread.is_alive():
            waiting = s.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            s.rollback()
            if waiting:
                return
            time.sleep(0.02)


# -- 5. webshop customer numbers ---------------------------------------------------------------


def test_a_webshop_customer_gets_a_free_number_when_the_next_is_taken_by_hand(
    client: TestClient, factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as s:
        tenant_id = create_tenant(s, slug="acme", name="Acme B.V.").id
        secret = intake.ensure_secret(s, tenant_id=tenant_id)
    with factory() as s:  # the number the series gives next (rolled back: handed back)
        upcoming = next_number(s, tenant_id=tenant_id, purpose="customer")
    with transaction(factory) as s:
        create_customer(s, tenant_id=tenant_id, number=upcoming, name="Typed by hand")
    r = deliver(client, secret, payload())
    assert r.status_code == 201, r.text
    with factory() as s:
        customer = s.get(Customer, r.json()["customer_id"])
        assert customer is not None and customer.needs_review
        assert customer.number != upcoming and customer.name == "Bouwbedrijf De Vries"
        audited = s.scalars(
            select(FieldChange.field).where(
                FieldChange.entity == "customer", FieldChange.entity_id == customer.id
            )
        ).all()
    assert {"number", "name", "email"} <= set(audited)


# -- 6. idempotent manual orders ---------------------------------------------------------------


@pytest.fixture
def world(factory: sessionmaker[Session]) -> OrdersWorld:
    with transaction(factory) as s:
        return make_world(s)


def count_orders(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return s.scalar(select(func.count()).select_from(Order)) or 0


def test_a_repeated_idempotency_key_answers_200_with_the_first_order(
    client: TestClient, world: OrdersWorld, factory: sessionmaker[Session]
) -> None:
    body = {"customer_id": world.customer_id, "order_type": "container_place"}
    key = {"Idempotency-Key": "retry-1:a.b_c"}
    first = client.post("/api/v1/orders", json=body, headers={**world.auth("planner"), **key})
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/orders", json=body, headers={**world.auth("planner"), **key})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert first.json()["source_ref"] == "manual:retry-1:a.b_c"
    assert count_orders(factory) == 1
    # Without a key every POST is a new order; another key, another order.
    assert client.post("/api/v1/orders", json=body, headers=world.auth("planner")).status_code == (
        201
    )
    other = {"Idempotency-Key": "retry-2"}
    assert (
        client.post(
            "/api/v1/orders", json=body, headers={**world.auth("planner"), **other}
        ).status_code
        == 201
    )
    assert count_orders(factory) == 3


@pytest.mark.parametrize("key", ["has space", "x" * 65, "a/b"])
def test_a_malformed_idempotency_key_is_refused(
    client: TestClient, world: OrdersWorld, key: str, factory: sessionmaker[Session]
) -> None:
    body = {"customer_id": world.customer_id, "order_type": "container_place"}
    r = client.post(
        "/api/v1/orders", json=body, headers={**world.auth("planner"), "Idempotency-Key": key}
    )
    assert r.status_code == 422
    assert count_orders(factory) == 0


def test_the_web_form_sent_twice_makes_one_order(tmp_path: Path) -> None:
    from tests.web.conftest import PASSWORD, build_shop

    url = f"sqlite:///{(tmp_path / 'oms.db').as_posix()}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as s:
        shop = build_shop(s)
    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp_path), factory)
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    c.get("/login")
    token = c.cookies["oms_csrf"]
    login = {"email": shop.emails["planner"], "password": PASSWORD, "csrf_token": token}
    assert c.post("/login", data=login).status_code == 303
    page = c.get("/orders/new")
    assert page.status_code == 200
    found = re.search(r'name="request_id" value="([A-Za-z0-9._:-]+)"', page.text)
    assert found, "the new-order form carries a request_id"
    before = count_orders(factory)
    form = {
        "customer_id": str(shop.customer_a),
        "order_type": "container_place",
        "request_id": found.group(1),
        "csrf_token": c.cookies["oms_csrf"],
    }
    first = c.post("/orders/new", data=form)
    second = c.post("/orders/new", data=form)
    assert first.status_code == second.status_code == 303, first.text
    assert first.headers["location"] == second.headers["location"]
    assert count_orders(factory) == before + 1
    fresh = re.search(r'name="request_id" value="([^"]+)"', c.get("/orders/new").text)
    assert fresh and fresh.group(1) != found.group(1)  # a new form, a new key


# -- 7. date bounds from the settings ----------------------------------------------------------


def test_date_bounds_for_the_settings() -> None:
    settings = Settings(environment="test", database_url="sqlite://")
    bounds = DateBounds.for_settings(settings, today=date(2026, 2, 28))
    assert bounds == DateBounds.around(
        date(2026, 2, 28),
        min_year=settings.order_date_min_year,
        max_years_ahead=settings.order_date_max_years_ahead,
    )
    assert DateBounds.for_settings(settings).first == date(settings.order_date_min_year, 1, 1)


# -- 8. no review notes for customers and drivers ----------------------------------------------


def test_customers_and_drivers_get_no_review_notes(
    client: TestClient, world: OrdersWorld, factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as s:
        order = orders.create_order(
            s,
            tenant_id=world.tenant_id,
            source="manual",
            data=OrderCreate(
                customer_id=world.customer_id,
                order_type="container_place",
                vehicle_id=world.vehicle_id,
            ),
            review_reasons=["klant belt altijd te laat"],
        )
        order_id = order.id
    office = client.get(f"/api/v1/orders/{order_id}", headers=world.auth("planner")).json()
    assert office["needs_review"] and office["review_reasons"] == ["klant belt altijd te laat"]
    mine = client.get(f"/api/v1/orders/{order_id}", headers=world.auth("customer"))
    assert mine.status_code == 200
    assert mine.json()["review_reasons"] == [] and mine.json()["needs_review"] is False
    listed = client.get("/api/v1/orders", headers=world.auth("customer")).json()["items"]
    assert [(o["id"], o["review_reasons"], o["needs_review"]) for o in listed] == [
        (order_id, [], False)
    ]
    office_list = client.get("/api/v1/orders", headers=world.auth("planner")).json()["items"]
    assert office_list[0]["review_reasons"] == ["klant belt altijd te laat"]
