"""Keyset paging of the order list and the order bin (issue 9, item 1): opaque cursors that
round-trip, pages that never repeat or skip an order while others are inserted, the filters,
the scopes, and no ``count(*)`` or ``OFFSET`` in any query."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from cloud.customers.models import Customer
from cloud.db import transaction
from cloud.orders import paging
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderSource, OrderType
from cloud.orders.repository import BinFilter
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order, order_bin
from tests.cloud.test_orders_full import OrdersWorld, client, make_world, world

pytestmark = pytest.mark.integration
__all__ = ["client", "world"]  # fixtures shared with test_orders_full


def add(session: Session, w: OrdersWorld, n: int = 1, **fields: Any) -> list[int]:
    source = fields.pop("source", OrderSource.MANUAL)
    ids = []
    for _ in range(n):
        data = OrderCreate(
            **{"customer_id": w.customer_id, "order_type": OrderType.OTHER, **fields}
        )
        ids.append(create_order(session, tenant_id=w.tenant_id, data=data, source=source).id)
    return ids


def walk(client, w: OrdersWorld, params: dict[str, Any], role: str = "planner") -> list[int]:  # type: ignore[no-untyped-def]
    seen: list[int] = []
    after = None
    while True:
        r = client.get(
            "/api/v1/orders", params={**params, **({"after": after} if after else {})},
            headers=w.auth(role),
        )  # fmt: skip
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [o["id"] for o in page["items"]]
        after = page["next"]
        if after is None:
            return seen


# -- cursors ------------------------------------------------------------------------------------


def test_cursors_round_trip_and_refuse_what_they_did_not_make() -> None:
    c = paging.encode_id("orders", 42)
    assert paging.decode_id("orders", c) == 42 and "42" not in c  # opaque, not a number
    d = paging.encode_date_id("order-bin", date(2026, 12, 14), 7)
    assert paging.decode_date_id("order-bin", d) == (date(2026, 12, 14), 7)
    assert paging.decode_date_id("order-bin", paging.encode_date_id("order-bin", None, 3)) == (
        None,
        3,
    )
    bad = [
        "",
        "!!",
        "e30",  # {}
        paging.encode("orders", {"id": "42"}),
        paging.encode("orders", {"id": 0}),
        paging.encode("orders", {"id": 2**31}),
        paging.encode("orders", {"id": True}),
        paging.encode("orders", {"id": 1, "x": 2}),
        paging.encode("order-bin", {"d": "2026-02-30", "id": 1}),
        d,  # another list's cursor
    ]
    for cursor in bad:
        with pytest.raises(paging.BadCursor) as exc:
            paging.decode_id("orders", cursor)
        assert exc.value.status_code == 422 and exc.value.detail.startswith("after:")
    with pytest.raises(paging.BadCursor):
        paging.decode_date_id("order-bin", paging.encode("order-bin", {"d": 5, "id": 1}))


def test_a_cursor_of_another_list_is_a_422(client, world) -> None:  # type: ignore[no-untyped-def]
    bin_cursor = paging.encode_date_id("order-bin", None, 1)
    r = client.get(f"/api/v1/orders?after={bin_cursor}", headers=world.auth("planner"))
    assert r.status_code == 422 and r.json()["error"] == "BadCursor"


# -- the list -----------------------------------------------------------------------------------


def test_pages_never_repeat_or_skip_while_orders_arrive(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        before = add(s, w, 11)
    seen: list[int] = []
    after = None
    rounds = 0
    while rounds < 10:
        rounds += 1
        params = {"limit": 3, **({"after": after} if after else {})}
        page = client.get("/api/v1/orders", params=params, headers=w.auth("planner")).json()
        assert page["limit"] == 3 and len(page["items"]) <= 3
        seen += [o["id"] for o in page["items"]]
        with transaction(factory) as s:
            add(s, w, 2)  # newer than every cursor: shows up on a fresh first page only
        after = page["next"]
        if after is None:
            break
    assert rounds == 4
    assert seen == sorted(before, reverse=True)
    assert len(walk(client, w, {"limit": 500})) == 11 + 2 * 4


def test_filters(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        other = add(s, w, 2, customer_id=w.other_customer_id, reference="REF_100%")
        dated = add(s, w, 2, requested_date=date(2026, 12, 14), order_type="container_place")
        portal = add(s, w, 1, source=OrderSource.PORTAL, requested_date=date(2026, 12, 20))
        planned = add(s, w, 2)
        for order_id in planned:
            change_status(s, order=s.get_one(Order, order_id), to=OrderStatus.PLANNED)
        s.get_one(Customer, w.other_customer_id).name = "Jansen Sloopwerken"
        number = s.get_one(Order, dated[0]).number

    def ids(**params: Any) -> set[int]:
        return set(walk(client, w, {"limit": 2, **params}))

    assert ids(customer_id=w.other_customer_id) == set(other)
    assert ids(status="planned") == set(planned)
    assert ids(order_type="container_place") == set(dated)
    assert ids(source="portal") == set(portal)
    assert ids(date_from="2026-12-14", date_to="2026-12-14") == set(dated)
    assert ids(date_from="2026-12-15") == set(portal)
    assert ids(q="sloopwerk") == set(other)  # the customer's name, any case
    assert ids(q="_100%") == set(other)  # the reference; % and _ are plain characters
    assert ids(q="%") == set(other)
    assert ids(q=number) == {dated[0]}
    assert ids(q="nothing like it") == set()
    assert ids(status="planned", q="sloop") == set()


def test_scopes_hold_with_filters(client, factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        mine = add(s, w, 3)
        add(s, w, 2, customer_id=w.other_customer_id)
        foreign = make_world(s, slug="globex")
        add(s, foreign, 2)
    assert set(walk(client, w, {"limit": 2}, role="customer")) == set(mine)
    assert walk(client, w, {"customer_id": w.other_customer_id}, role="customer") == []
    assert walk(client, w, {}, role="driver") == []
    assert len(walk(client, w, {"limit": 2}, role="owner")) == 5
    # another tenant's customer as a filter: refused naming the field, like any reference
    r = client.get(f"/api/v1/orders?customer_id={foreign.customer_id}", headers=w.auth("planner"))
    assert r.status_code == 422 and r.json()["detail"].startswith("customer_id:")


def test_no_count_and_no_offset(client, factory, engine, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    with transaction(factory) as s:
        add(s, w, 5)
    statements: list[str] = []

    def record(conn, cursor, statement, *args: Any) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement.lower())

    event.listen(engine, "before_cursor_execute", record)
    try:
        first = client.get("/api/v1/orders?limit=2", headers=w.auth("planner")).json()
        client.get(
            f"/api/v1/orders?limit=2&after={first['next']}&q=x&status=created",
            headers=w.auth("planner"),
        )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    listing = [st for st in statements if "from orders" in st]
    assert listing, statements
    assert not [st for st in listing if "count(" in st]
    if engine.dialect.name == "postgresql":  # SQLite's dialect always says ``OFFSET 0``
        assert not [st for st in listing if " offset " in st]


# -- the order bin ------------------------------------------------------------------------------


def test_the_order_bin_pages_by_requested_date(factory, world) -> None:  # type: ignore[no-untyped-def]
    w = world
    day = date(2026, 12, 14)
    with transaction(factory) as s:
        late = add(s, w, 2, requested_date=day + timedelta(days=2))
        undated = add(s, w, 3)
        soon = add(s, w, 2, requested_date=day)
        placed = add(s, w, 1, requested_date=day, order_type="container_place")
        wood = add(s, w, 1, requested_date=day, material_id=w.other_material_id)
        planned = add(s, w, 1, requested_date=day)
        change_status(s, order=s.get_one(Order, planned[0]), to=OrderStatus.PLANNED)
    expected = sorted(soon + placed + wood) + late + undated

    def walk_bin(limit: int, insert_after: int | None = None) -> tuple[list[int], int | None]:
        seen: list[int] = []
        after, inserted = None, None
        with transaction(factory) as s:
            while True:
                rows, after = order_bin(s, tenant_id=w.tenant_id, after=after, limit=limit)
                seen += [o.id for o in rows]
                if insert_after is not None and inserted is None and len(seen) >= insert_after:
                    inserted = add(s, w, 1, requested_date=day)[0]
                if after is None:
                    return seen, inserted

    for limit in (1, 3, 100):
        assert walk_bin(limit)[0] == expected, limit
    # an order that arrives during the walk never shifts what is left: every order once
    seen, inserted = walk_bin(2, insert_after=2)
    assert inserted is not None
    assert seen == sorted(soon + placed + wood + [inserted]) + late + undated
    with factory() as s:

        def ids(f: BinFilter) -> list[int]:
            return [o.id for o in order_bin(s, tenant_id=w.tenant_id, filters=f, limit=50)[0]]

        assert ids(BinFilter(order_type=OrderType.CONTAINER_PLACE)) == placed
        assert ids(BinFilter(material_id=w.other_material_id)) == wood
        assert ids(BinFilter(date_from=day + timedelta(days=1))) == late
        assert ids(BinFilter(customer_id=w.other_customer_id)) == []
