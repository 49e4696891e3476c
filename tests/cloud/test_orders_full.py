"""Orders in full (issue 9, item 4 and the intake API of item 5): fields, validation a planner
understands, what may change in which status, cancelling, the audit trail, idempotent intake
and containers moved on execution. Through the API and at service level, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.articles.models import Article
from cloud.audit.models import FieldChange
from cloud.containers.models import Container
from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import create_device
from cloud.documents.models import Document
from cloud.entrypoints.app import create_app
from cloud.materials.models import Material, WasteStream
from cloud.orders import automation, events, models, schemas
from cloud.orders import repository as order_repository
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderLine, OrderSource, OrderStatusChange, OrderType
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order, create_order_once
from cloud.settings import Settings
from cloud.tenancy.service import create_user, issue_token
from tests.support.factories import create_world

pytestmark = pytest.mark.integration

DAY = date(2026, 12, 14)
ROLES = ("planner", "administrator", "owner", "customer", "driver")


@dataclass
class OrdersWorld:
    """A tenant with one row of each kind an order names, and a user per role."""

    tenant_id: int
    customer_id: int
    other_customer_id: int
    site_id: int
    """A site of ``customer_id``."""
    other_site_id: int
    """A site of ``other_customer_id``."""
    yard_id: int
    vehicle_id: int
    material_id: int
    other_material_id: int
    article_id: int
    stream_id: int
    """Afvalstroomnummer of ``customer_id`` for ``material_id``, valid all of 2026."""
    container_here_id: int
    """A container that stands at ``site_id``."""
    container_elsewhere_id: int
    """A container that stands at ``other_site_id``."""
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_world(session: Session, slug: str = "acme") -> OrdersWorld:
    w = create_world(session, slug=slug, device_id=f"wb-{slug}")
    other = create_customer(session, tenant_id=w.tenant_id, number="2002", name=f"{slug} Ander")
    site = Site(tenant_id=w.tenant_id, name="Bouwplaats", customer_id=w.customer_id)
    other_site = Site(tenant_id=w.tenant_id, name="Elders", customer_id=other.id)
    processor = Site(
        tenant_id=w.tenant_id, name="Verwerker", kind="processor", processor_number="12345"
    )
    article = Article(tenant_id=w.tenant_id, code="STORT", name="Storten per ton", unit="TNE")
    session.add_all([site, other_site, processor, article])
    session.flush()
    material = Material(
        tenant_id=w.tenant_id, code="BSA", description="Bouw- en sloopafval", eural_code="170904"
    )
    other_material = Material(
        tenant_id=w.tenant_id, code="HOUT", description="Hout B", eural_code="170201"
    )
    session.add_all([material, other_material])
    session.flush()
    stream = WasteStream(
        tenant_id=w.tenant_id,
        number="123450000001",
        customer_id=w.customer_id,
        processor_site_id=processor.id,
        material_id=material.id,
        valid_from=date(2026, 1, 1),
        valid_until=date(2026, 12, 31),
    )
    here = Container(
        tenant_id=w.tenant_id,
        number="C-1",
        container_type="afzetcontainer",
        location_kind="site",
        site_id=site.id,
    )
    elsewhere = Container(
        tenant_id=w.tenant_id,
        number="C-2",
        container_type="rolcontainer",
        location_kind="site",
        site_id=other_site.id,
    )
    session.add_all([stream, here, elsewhere])
    session.flush()
    world = OrdersWorld(
        tenant_id=w.tenant_id,
        customer_id=w.customer_id,
        other_customer_id=other.id,
        site_id=site.id,
        other_site_id=other_site.id,
        yard_id=w.site_id,
        vehicle_id=w.vehicle_id,
        material_id=material.id,
        other_material_id=other_material.id,
        article_id=article.id,
        stream_id=stream.id,
        container_here_id=here.id,
        container_elsewhere_id=elsewhere.id,
    )
    for role in ROLES:
        user = create_user(
            session,
            tenant_id=w.tenant_id,
            email=f"{role}-only@{slug}.example",
            name=role,
            password="secret-pw-1",
            roles=[role],
            customer_id=w.customer_id if role == "customer" else None,
        )
        world.tokens[role], _ = issue_token(session, user_id=user.id, ttl=timedelta(hours=1))
        world.user_ids[role] = user.id
    return world


@pytest.fixture
def client(factory, db_url) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def world(factory) -> OrdersWorld:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return make_world(s)


def new_order(
    session: Session, w: OrdersWorld, *, status: OrderStatus = OrderStatus.CREATED, **fields: Any
) -> Order:
    data = {"customer_id": w.customer_id, "order_type": "container_place", **fields}
    order = create_order(session, tenant_id=w.tenant_id, data=OrderCreate(**data), source="manual")
    path = {
        OrderStatus.CREATED: [],
        OrderStatus.PLANNED: [OrderStatus.PLANNED],
        OrderStatus.EXECUTED: [OrderStatus.EXECUTED],
        OrderStatus.READY_FOR_INVOICING: [OrderStatus.EXECUTED, OrderStatus.READY_FOR_INVOICING],
        OrderStatus.INVOICED: [
            OrderStatus.EXECUTED,
            OrderStatus.READY_FOR_INVOICING,
            OrderStatus.INVOICED,
        ],
        OrderStatus.CANCELLED: [OrderStatus.CANCELLED],
    }[status]
    for step in path:
        change_status(session, order=order, to=step)
    return order


def full_body(w: OrdersWorld) -> dict[str, Any]:
    return {
        "customer_id": w.customer_id,
        "order_type": "container_collect",
        "site_id": w.site_id,
        "vehicle_id": w.vehicle_id,
        "container_id": w.container_here_id,
        "material_id": w.material_id,
        "waste_stream_id": w.stream_id,
        "requested_date": DAY.isoformat(),
        "window_start": "2026-12-14T08:00:00+01:00",
        "window_end": "2026-12-14T12:00:00+01:00",
        "expected_quantity_kg": "4200.5",
        "expected_containers": 1,
        "reference": "PO-77",
        "notes": "Achterom, sleutel bij de buren",
        "lines": [
            {"article_id": w.article_id, "description": "Storten", "unit_price": "95.50"},
            {"article_id": w.article_id, "quantity": "1", "unit_price": "-10"},
        ],
    }


# -- one definition per concept -----------------------------------------------------------------


def test_order_types_and_sources_have_one_definition() -> None:
    assert not hasattr(schemas, "OrderType") or schemas.OrderType is models.OrderType
    assert not hasattr(models, "ORDER_TYPES") and not hasattr(models, "SOURCES")
    assert OrderCreate.model_fields["order_type"].annotation is OrderType
    props = OrderCreate.model_json_schema()
    enum = props["$defs"]["OrderType"]["enum"]
    assert enum == [t.value for t in OrderType]


# -- fields and validation ----------------------------------------------------------------------


def test_an_order_in_full_round_trips(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    r = client.post("/api/v1/orders", json=full_body(w), headers=w.auth("planner"))
    assert r.status_code == 201, r.text
    o = r.json()
    assert o["source"] == "manual" and o["source_ref"] is None and o["status"] == "created"
    assert o["created_by_user_id"] == w.user_ids["planner"]
    assert o["material"] == "Bouw- en sloopafval"  # the truck's text, from the material
    assert o["container_type"] == "afzetcontainer"  # from the container
    assert o["waste_stream_id"] == w.stream_id and o["expected_containers"] == 1
    assert o["window_start"].startswith("2026-12-14T07:00:00")
    assert [(x["position"], x["unit_price"], x["quantity"]) for x in o["lines"]] == [
        (1, "95.50", None),
        (2, "-10", "1"),
    ]
    assert o["number"].endswith("000001")
    with transaction(factory) as s:
        s.add(
            Document(
                tenant_id=w.tenant_id,
                order_id=o["id"],
                kind="other",
                filename="begeleidingsbrief.pdf",
                content_type="application/pdf",
                size=10,
                sha256="a" * 64,
                stored=True,
            )
        )
    got = client.get(f"/api/v1/orders/{o['id']}", headers=w.auth("planner")).json()
    assert [d["filename"] for d in got["documents"]] == ["begeleidingsbrief.pdf"]
    assert got["lines"] == o["lines"]
    # the creation is in the audit trail, field by field
    with factory() as s:
        fields = {
            c.field: c.new_value
            for c in s.scalars(select(FieldChange).where(FieldChange.entity_id == o["id"]))
        }
    assert fields["waste_stream_id"] == str(w.stream_id) and fields["reference"] == "PO-77"
    assert "lines" in fields and fields["source"] == "manual"


def test_a_waste_stream_brings_its_material(client, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    body = {
        "customer_id": w.customer_id,
        "order_type": "container_exchange",
        "site_id": w.site_id,
        "waste_stream_id": w.stream_id,
        "requested_date": DAY.isoformat(),
    }
    r = client.post("/api/v1/orders", json=body, headers=w.auth("planner"))
    assert r.status_code == 201, r.text
    assert r.json()["material_id"] == w.material_id
    assert r.json()["material"] == "Bouw- en sloopafval"


@pytest.mark.parametrize(
    "change,error,field_",
    [
        ({"site_id": "other_site_id"}, "UnknownReference", "site_id"),
        ({"container_id": "container_elsewhere_id"}, "ContainerElsewhere", "container_id"),
        ({"material_id": "other_material_id"}, "WasteStreamNotValid", "afvalstroomnummer"),
        ({"requested_date": "2027-01-05"}, "WasteStreamNotValid", "afvalstroomnummer"),
        (
            {"customer_id": "other_customer_id", "site_id": None, "vehicle_id": None},
            "WasteStreamNotValid",
            "belongs to customer",
        ),
        ({"material": "Puin"}, "MaterialConflict", "material"),
        ({"lines": "foreign_article"}, "UnknownReference", "lines[0].article_id"),
        ({"window_end": "2026-12-14T07:00:00Z"}, "ValidationError", "window_end"),
    ],
)
def test_validation_names_the_field(client, factory, world, change, error, field_) -> None:  # type: ignore[no-untyped-def]
    w = world
    body = full_body(w)
    for k, v in change.items():
        if v == "foreign_article":
            with transaction(factory) as s:
                foreign = make_world(s, slug="globex")
            body[k] = [{"article_id": foreign.article_id}]
        elif isinstance(v, str) and hasattr(w, v):
            body[k] = getattr(w, v)
        else:
            body[k] = v
    r = client.post("/api/v1/orders", json=body, headers=w.auth("planner"))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == error
    assert field_ in str(r.json()["detail"]), r.text
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 0


def test_a_container_with_an_unknown_or_yard_place_is_accepted(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        c = s.get(Container, w.container_elsewhere_id)
        c.location_kind, c.site_id = "yard", None
    body = {**full_body(w), "container_id": w.container_elsewhere_id}
    r = client.post("/api/v1/orders", json=body, headers=w.auth("planner"))
    assert r.status_code == 201, r.text


# -- what may change, by status -----------------------------------------------------------------


def test_planners_change_open_orders_and_every_change_is_audited(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    created = client.post("/api/v1/orders", json=full_body(w), headers=w.auth("planner")).json()
    patch = {
        "reference": "PO-78",
        "notes": None,
        "window_end": "2026-12-14T13:00:00+01:00",
        "lines": [{"article_id": w.article_id, "description": "Huur", "quantity": "3"}],
    }
    r = client.patch(f"/api/v1/orders/{created['id']}", json=patch, headers=w.auth("planner"))
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["reference"] == "PO-78" and o["notes"] is None
    assert [(x["position"], x["description"]) for x in o["lines"]] == [(1, "Huur")]
    h = client.get(f"/api/v1/orders/{created['id']}/history", headers=w.auth("planner")).json()
    assert h[0]["kind"] == "status" and h[0]["new_value"] == "created"
    changed = [e for e in h if e["kind"] == "field" and e["old_value"] is not None]
    assert {e["field"] for e in changed} == {"reference", "notes", "window_end", "lines"}
    ref = next(e for e in changed if e["field"] == "reference")
    assert (ref["old_value"], ref["new_value"]) == ("PO-77", "PO-78")
    assert ref["by_user_id"] == w.user_ids["planner"]
    times = [datetime.fromisoformat(e["at"]) for e in h]
    assert times == sorted(times)
    # sending the same again changes (and records) nothing
    r = client.patch(f"/api/v1/orders/{created['id']}", json=patch, headers=w.auth("planner"))
    assert r.status_code == 200
    again = client.get(f"/api/v1/orders/{created['id']}/history", headers=w.auth("owner")).json()
    assert len(again) == len(h)
    # the window is checked against what the order already has
    r = client.patch(
        f"/api/v1/orders/{created['id']}",
        json={"window_end": "2026-12-14T06:00:00+01:00"},
        headers=w.auth("planner"),
    )
    assert r.status_code == 422 and r.json()["error"] == "WindowInverted"
    assert r.json()["detail"].startswith("window_end:")
    # customers and drivers neither change nor read the audit trail
    for role in ("customer", "driver"):
        r = client.patch(
            f"/api/v1/orders/{created['id']}", json={"reference": "x"}, headers=w.auth(role)
        )
        assert r.status_code == 403, role
        r = client.get(f"/api/v1/orders/{created['id']}/history", headers=w.auth(role))
        assert r.status_code == 403, role


def test_after_execution_only_administrators_correct_with_a_reason(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        executed = new_order(s, w, status=OrderStatus.EXECUTED).id
        approved = new_order(s, w, status=OrderStatus.READY_FOR_INVOICING).id
        o = s.get(Order, executed)
        o.actual_quantity_kg = Decimal("18240")
    url = f"/api/v1/orders/{executed}"
    r = client.patch(url, json={"reference": "late"}, headers=w.auth("planner"))
    assert r.status_code == 403 and r.json()["error"] == "CorrectionNotAllowed"
    r = client.patch(url, json={"reference": "late"}, headers=w.auth("administrator"))
    assert r.status_code == 422 and r.json()["error"] == "ReasonRequired"
    assert r.json()["detail"].startswith("reason:")
    # the customer was wrong: the administrator corrects it, with the reason
    body = {"customer_id": w.other_customer_id, "reason": "booked on the wrong customer"}
    r = client.patch(url, json=body, headers=w.auth("administrator"))
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] == w.other_customer_id and r.json()["status"] == "executed"
    h = client.get(f"{url}/history", headers=w.auth("administrator")).json()
    fix = [e for e in h if e["field"] == "customer_id" and e["old_value"]]
    assert fix[0]["reason"] == "booked on the wrong customer"
    # weighed facts are not fields of an order change
    r = client.patch(url, json={"actual_quantity_kg": "1", "reason": "x"}, headers=w.auth("owner"))
    assert r.status_code == 422 and r.json()["error"] == "ValidationError"
    r = client.patch(
        f"/api/v1/orders/{approved}", json={"notes": "n", "reason": "r"}, headers=w.auth("owner")
    )
    assert r.status_code == 200, r.text
    with factory() as s:
        assert s.get(Order, executed).actual_quantity_kg == Decimal("18240")


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.INVOICED])
def test_cancelled_and_invoiced_orders_do_not_change(client, factory, world, status) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        order_id = new_order(s, w, status=status).id
    r = client.patch(
        f"/api/v1/orders/{order_id}",
        json={"reference": "x", "reason": "because"},
        headers=w.auth("owner"),
    )
    assert r.status_code == 409 and r.json()["error"] == "OrderLocked"
    assert status.value in r.json()["detail"]


def test_update_refuses_nulls_for_required_fields(client, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    created = client.post("/api/v1/orders", json=full_body(w), headers=w.auth("planner")).json()
    for name in ("customer_id", "order_type", "lines"):
        r = client.patch(
            f"/api/v1/orders/{created['id']}", json={name: None}, headers=w.auth("planner")
        )
        assert r.status_code == 422 and name in r.text, name


def test_another_tenants_order_cannot_be_changed_or_cancelled(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        other = make_world(s, slug="globex")
        theirs = new_order(s, other).id
    for method, path, body in (
        ("patch", f"/api/v1/orders/{theirs}", {"reference": "x"}),
        ("post", f"/api/v1/orders/{theirs}/cancel", {"reason": "x"}),
        ("get", f"/api/v1/orders/{theirs}/history", None),
    ):
        r = client.request(method, path, json=body, headers=world.auth("owner"))
        assert r.status_code == 404 and r.json()["error"] == "OrderNotFound", path


# -- cancelling ---------------------------------------------------------------------------------


def test_cancel_with_a_reason(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    seen: list[events.OrderCancelled] = []

    def handler(session: Session, event: events.OrderCancelled) -> None:
        seen.append(event)

    with transaction(factory) as s:
        planned = new_order(s, w, status=OrderStatus.PLANNED).id
        executed = new_order(s, w, status=OrderStatus.EXECUTED).id
    url = f"/api/v1/orders/{planned}/cancel"
    for body in ({}, {"reason": ""}, {"reason": "x" * 501}):
        r = client.post(url, json=body, headers=w.auth("planner"))
        assert r.status_code == 422, body
    assert client.post(url, json={"reason": "x"}, headers=w.auth("customer")).status_code == 403
    events.subscribe(events.OrderCancelled, handler)
    try:
        r = client.post(url, json={"reason": "klant belde af"}, headers=w.auth("planner"))
    finally:
        events.unsubscribe(events.OrderCancelled, handler)
    assert r.status_code == 200, r.text
    o = r.json()
    assert o["status"] == "cancelled" and o["cancel_reason"] == "klant belde af"
    assert o["cancelled_at"] is not None
    assert o["history"][-1]["to_status"] == "cancelled"
    assert o["history"][-1]["reason"] == "klant belde af"
    assert [e.order.id for e in seen] == [planned] and seen[0].reason == "klant belde af"
    # executed orders and already cancelled ones: 409 with the reason
    for order_id in (executed, planned):
        r = client.post(
            f"/api/v1/orders/{order_id}/cancel", json={"reason": "x"}, headers=w.auth("owner")
        )
        assert r.status_code == 409 and r.json()["error"] == "InvalidTransition"


def test_cancelling_a_dispatched_order_withdraws_the_job(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.jobs.models import JobAssignment
    from cloud.outbox.models import OutboxJob

    w = world
    with transaction(factory) as s:
        create_device(
            s, tenant_id=w.tenant_id, device_id="truck-1", kind="truck", vehicle_id=w.vehicle_id
        )
        order_id = new_order(s, w, vehicle_id=w.vehicle_id).id
    r = client.post(f"/api/v1/orders/{order_id}/dispatch", json={}, headers=w.auth("planner"))
    assert r.status_code == 202, r.text
    r = client.post(
        f"/api/v1/orders/{order_id}/cancel", json={"reason": "weg"}, headers=w.auth("planner")
    )
    assert r.status_code == 200, r.text
    with factory() as s:
        assignment = s.scalar(select(JobAssignment).where(JobAssignment.order_id == order_id))
        assert assignment is not None and assignment.withdrawn_at is not None
        payloads = [j.payload for j in s.scalars(select(OutboxJob).order_by(OutboxJob.id))]
    assert '"cancel"' in str(payloads[-1])


# -- intake: every source, idempotent -----------------------------------------------------------


def test_every_source_is_visible_with_its_reference(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        for source in OrderSource:
            create_order(
                s,
                tenant_id=w.tenant_id,
                data=OrderCreate(customer_id=w.customer_id, order_type=OrderType.OTHER),
                source=source,
                source_ref=f"{source.value}:1",
            )
    items = client.get("/api/v1/orders", headers=w.auth("planner")).json()["items"]
    assert {(o["source"], o["source_ref"]) for o in items} == {
        (s.value, f"{s.value}:1") for s in OrderSource
    }


def test_create_is_idempotent_on_the_source_ref(factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    data = OrderCreate(customer_id=w.customer_id, order_type=OrderType.CONTAINER_PLACE)
    with transaction(factory) as s:
        first, made = create_order_once(
            s,
            tenant_id=w.tenant_id,
            data=data,
            source=OrderSource.WEBSHOP,
            source_ref="webshop:42",
            by_user_id=w.user_ids["owner"],
        )
        assert made and first.created_by_user_id == w.user_ids["owner"]
        first_id = first.id
    with transaction(factory) as s:
        again, made = create_order_once(
            s, tenant_id=w.tenant_id, data=data, source="webshop", source_ref="webshop:42"
        )
        assert not made and again.id == first_id
        plain = create_order(
            s, tenant_id=w.tenant_id, data=data, source="webshop", source_ref="webshop:42"
        )
        assert plain.id == first_id
        after = create_order(s, tenant_id=w.tenant_id, data=data, source="manual")
        assert after.number.endswith("000002")  # no number was used up by the repeats


def test_a_conflict_at_insert_reads_the_other_order_back(factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The unique constraint is the last line: when both look-ups missed the other order
    (it committed in between), the insert fails in its savepoint and the order is read."""
    w = world
    data = OrderCreate(customer_id=w.customer_id, order_type=OrderType.OTHER)
    with transaction(factory) as s:
        first = create_order(
            s, tenant_id=w.tenant_id, data=data, source="portal", source_ref="portal:7"
        ).id
    real = order_repository.by_source_ref
    calls = []

    def blind_twice(session: Session, **kw: Any) -> Order | None:
        calls.append(kw)
        return None if len(calls) <= 2 else real(session, **kw)

    monkeypatch.setattr(order_repository, "by_source_ref", blind_twice)
    with transaction(factory) as s:
        s.add(OrderStatusChange(tenant_id=w.tenant_id, order_id=first, to_status="created"))
        order, made = create_order_once(
            s, tenant_id=w.tenant_id, data=data, source="portal", source_ref="portal:7"
        )
        assert (order.id, made) == (first, False) and len(calls) == 3
        s.flush()  # the caller's own work in the transaction survives the savepoint
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 1
        assert s.scalar(select(func.count()).select_from(OrderStatusChange)) == 2


def test_concurrent_intake_with_one_source_ref_makes_one_order(pg_url: str) -> None:
    engine = make_engine(pg_url, pool_size=3)
    factory: sessionmaker[Session] = make_sessionmaker(engine)
    try:
        with transaction(factory) as s:
            w = make_world(s)
        data = OrderCreate(customer_id=w.customer_id, order_type=OrderType.OTHER)
        results: list[tuple[int, bool]] = []
        a = factory()
        first, made = create_order_once(
            a, tenant_id=w.tenant_id, data=data, source="schedule", source_ref="schedule:1:2026"
        )
        assert made

        def second() -> None:
            with transaction(factory) as b:
                o, created = create_order_once(
                    b,
                    tenant_id=w.tenant_id,
                    data=data,
                    source="schedule",
                    source_ref="schedule:1:2026",
                )
                results.append((o.id, created))

        t = threading.Thread(target=second)
        t.start()
        t.join(0.5)
        assert t.is_alive(), "the second caller must wait for the first"
        a.commit()
        first_id = first.id
        a.close()
        t.join(10)
        assert results == [(first_id, False)]
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(Order)) == 1
            nxt = create_order(s, tenant_id=w.tenant_id, data=data, source="manual")
            assert nxt.number.endswith("000002")
    finally:
        engine.dispose()


# -- containers move when the order is executed -------------------------------------------------


def test_execution_moves_the_container_and_flags_what_does_not_add_up(factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        device = create_device(
            s, tenant_id=w.tenant_id, device_id="truck-2", kind="truck", vehicle_id=w.vehicle_id
        )
        c = s.get(Container, w.container_elsewhere_id)
        c.location_kind, c.site_id = "yard", None
        place = new_order(
            s, w, site_id=w.site_id, container_id=w.container_elsewhere_id, vehicle_id=w.vehicle_id
        )
        nowhere = new_order(s, w, container_id=w.container_here_id)
        at = datetime(2026, 12, 14, 9, 30, tzinfo=UTC)
        for order in (place, nowhere):
            automation.execute(s, order=order, device=device, at=at, reason="job completed")
        assert place.status == "executed" and not place.needs_review
        moved = s.get(Container, w.container_elsewhere_id)
        assert (moved.location_kind, moved.site_id) == ("site", w.site_id)
        assert nowhere.needs_review and "no site" in " ".join(nowhere.review_reasons)


def test_order_lines_are_stored_in_position_order(factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        order = new_order(
            s,
            w,
            lines=[{"article_id": w.article_id, "description": f"regel {i}"} for i in range(3)],
        )
        rows = s.scalars(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(OrderLine.position)
        ).all()
        assert [(r.position, r.description) for r in rows] == [
            (1, "regel 0"),
            (2, "regel 1"),
            (3, "regel 2"),
        ]
