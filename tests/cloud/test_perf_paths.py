"""The fast paths of issue 9, item 8: the order list filtered by requested date pages by
(requested date, id) with cursors of its own, and a webhook delivery or a new order costs
a bounded number of SQL statements (the number series stays locked for few of them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit.models import FieldChange
from cloud.db import transaction, utcnow
from cloud.intake import service as intake
from cloud.materials.models import Material
from cloud.orders import paging
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order
from tests.cloud.test_order_paging import add, walk
from tests.cloud.test_orders_full import OrdersWorld, client, world

pytestmark = pytest.mark.integration
__all__ = ["client", "world"]  # fixtures shared with test_orders_full

DAY = date(2026, 12, 14)


def _dated(session: Session, w: OrdersWorld, days: list[int]) -> list[int]:
    return [add(session, w, requested_date=DAY + timedelta(days=d))[0] for d in days]


def _date_key(session: Session, ids: list[int]) -> list[int]:
    """The ids sorted as the date list sorts them: latest requested date first, then id."""
    rows = session.execute(select(Order.id, Order.requested_date).where(Order.id.in_(ids)))
    return [i for i, _ in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)]


# -- the order list filtered by date ------------------------------------------------------------


def test_a_date_range_is_sorted_by_requested_date_then_id(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        inside = _dated(s, w, [0, 3, 1, 3, 0, 2, 3, 1])
        _dated(s, w, [-1, 5])  # outside the range
        add(s, w, 2)  # no date: never in a date range
        expected = _date_key(s, inside)
    params = {"date_from": DAY.isoformat(), "date_to": (DAY + timedelta(days=3)).isoformat()}
    for limit in (1, 2, 3, 50):
        assert walk(client, w, {**params, "limit": limit}) == expected
    assert walk(client, w, {"date_from": DAY.isoformat(), "limit": 2})[:3] == _date_key_top(
        factory, w, since=DAY
    )


def _date_key_top(factory: sessionmaker[Session], w: OrdersWorld, *, since: date) -> list[int]:
    with factory() as s:
        ids = list(
            s.scalars(
                select(Order.id).where(
                    Order.tenant_id == w.tenant_id, Order.requested_date >= since
                )
            )
        )
        return _date_key(s, ids)[:3]


def test_date_pages_never_repeat_or_skip_while_orders_arrive(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        before = _dated(s, w, [0, 1, 2, 1, 0, 2, 1, 2, 0, 1, 2])
        expected = _date_key(s, before)
    params = {"date_from": DAY.isoformat(), "date_to": (DAY + timedelta(days=2)).isoformat()}
    seen: list[int] = []
    arrived: list[int] = []
    after = None
    for _ in range(10):
        page = client.get(
            "/api/v1/orders",
            params={**params, "limit": 3, **({"after": after} if after else {})},
            headers=w.auth("planner"),
        ).json()
        assert len(page["items"]) <= 3
        seen += [o["id"] for o in page["items"]]
        with transaction(factory) as s:
            # on every date of the range: before, at and after the cursor's date
            arrived += _dated(s, w, [0, 1, 2])
        after = page["next"]
        if after is None:
            break
    assert after is None
    assert len(seen) == len(set(seen))  # no repeats
    assert set(before) <= set(seen)  # no skips
    # what arrived meanwhile shows up only where it sorts after the cursor: the order of
    # what was seen is the list's order
    with factory() as s:
        assert seen == _date_key(s, seen)
    assert set(walk(client, w, {**params, "limit": 500})) == set(before) | set(arrived)
    assert [i for i in seen if i in set(before)] == expected


def test_cursors_of_the_two_orderings_are_refused_by_each_other(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        _dated(s, w, [0, 0, 1])
    dated = {"date_from": DAY.isoformat(), "limit": 1}
    by_date = client.get("/api/v1/orders", params=dated, headers=w.auth("planner")).json()
    by_id = client.get("/api/v1/orders", params={"limit": 1}, headers=w.auth("planner")).json()
    assert by_date["next"] and by_id["next"] and by_date["next"] != by_id["next"]
    for params in ({"limit": 1, "after": by_date["next"]}, {**dated, "after": by_id["next"]}):
        r = client.get("/api/v1/orders", params=params, headers=w.auth("planner"))
        assert r.status_code == 422 and r.json()["error"] == "BadCursor", r.text
    # a date cursor without a date is none the list hands out
    no_date = paging.encode_date_id("orders-by-date", None, 5)
    r = client.get("/api/v1/orders", params={**dated, "after": no_date}, headers=w.auth("planner"))
    assert r.status_code == 422 and r.json()["error"] == "BadCursor"


def test_date_order_holds_within_a_customer_scope(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        mine = _dated(s, w, [2, 0, 1, 2])
        add(s, w, 2, customer_id=w.other_customer_id, requested_date=DAY)
        expected = _date_key(s, mine)
    params = {"date_from": DAY.isoformat(), "limit": 1}
    assert walk(client, w, params, role="customer") == expected


# -- statement counts ---------------------------------------------------------------------------


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    """The statements sent to PostgreSQL (SQLite, a test database, is not counted)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("statement counts are PostgreSQL's")
    statements: list[str] = []

    def grab(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", grab)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", grab)


def _after_number(statements: list[str]) -> list[str]:
    """The statements from taking the order number on (the series row is locked for them)."""
    taken = [i for i, s in enumerate(statements) if s.startswith("UPDATE number_series")]
    return statements[taken[-1] :]


def test_a_new_order_locks_the_number_series_for_few_statements(factory, engine, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with factory() as s:
        with counted(engine) as statements:
            order = create_order(
                s,
                tenant_id=w.tenant_id,
                data=OrderCreate(customer_id=w.customer_id, order_type="other", reference="R1"),
                source="manual",
            )
            s.commit()
        audited = s.scalar(
            select(func.count()).where(
                FieldChange.entity == "order", FieldChange.entity_id == order.id
            )
        )
    locked = _after_number(statements)
    # the order, its status row, its audit (one INSERT for all its fields), the savepoint
    assert [x.split()[0] for x in locked] == ["UPDATE", "INSERT", "INSERT", "INSERT", "RELEASE"]
    assert audited is not None and audited >= 5


def _shop_payload(shop_order_id: str, *, email: str, street: str) -> bytes:
    return json.dumps(
        {
            "shop_order_id": shop_order_id,
            "customer": {"name": "Klant", "email": email},
            "site": {"street": street, "postal_code": "1234 AB", "city": "Utrecht"},
            "order_type": "container_place",
            "container_type": "10m3",
            "material_code": "PUIN",
            "requested_date": (utcnow().date() + timedelta(days=3)).isoformat(),
        }
    ).encode()


def _deliver(
    factory: sessionmaker[Session], secret: str, body: bytes, webhook_id: str
) -> intake.Answer:
    from cloud.intake import webhooks

    now = utcnow()
    ts = str(int(now.timestamp()))
    sig = webhooks.sign(
        key=webhooks.secret_key(secret), webhook_id=webhook_id, timestamp=ts, body=body
    )
    with transaction(factory) as s:
        return intake.receive_webshop_delivery(
            s,
            tenant_slug="acme",
            headers=intake.DeliveryHeaders(webhook_id, ts, sig),
            body=body,
            now=now,
        )


def test_a_webhook_delivery_costs_few_statements(factory, engine, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        s.add(Material(tenant_id=w.tenant_id, code="PUIN", description="Puin"))
        secret = intake.ensure_secret(s, tenant_id=w.tenant_id)
    first = _shop_payload("A-0", email="first@shop.example", street="Laan 0")
    assert _deliver(factory, secret, first, "msg_0").status_code == 201  # makes the series
    new = _shop_payload("A-1", email="new@shop.example", street="Laan 1")
    with counted(engine) as statements:
        assert _deliver(factory, secret, new, "msg_1").status_code == 201
    # verify, claim, material, customer, order?, savepoint, free number, number, customer,
    # customer audit, site, site audit, savepoint, order?, number, order, status, audit,
    # release x2, answer
    assert len(statements) <= 21, "\n".join(statements)
    known = _shop_payload("A-2", email="new@shop.example", street="Laan 1")
    with counted(engine) as statements:
        answer = _deliver(factory, secret, known, "msg_2")
    assert answer.status_code == 201 and answer.body["created"] is True
    # verify, claim, material, customer, sites, order?, savepoint, number, order, status,
    # audit, release, answer (and the order looked up again before the number): the
    # references the order names are the rows already read
    assert len(statements) <= 14, "\n".join(statements)
    assert len(_after_number(statements)) <= 6
    again = _deliver(factory, secret, known, "msg_3")  # the same shop order, another id
    assert again.body["created"] is False and again.body["order_id"] == answer.body["order_id"]
