# ruff: noqa: F811  (pytest fixtures imported from masterdata_support, used as arguments)
"""Containers: validation of where one stands, audit, isolation, and ``move_for_order`` for
placement, collection, exchange and what does not add up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit.models import FieldChange
from cloud.containers.models import Container
from cloud.containers.schemas import ContainerCreate
from cloud.containers.service import create_container, move_for_order
from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.db import transaction
from cloud.fleet.service import create_vehicle
from cloud.orders.models import Order
from tests.cloud.masterdata_support import Office, client, count, offices  # noqa: F401

pytestmark = pytest.mark.integration
AT = datetime(2026, 12, 10, 9, 30, tzinfo=UTC)


@dataclass
class Places:
    customer_id: int
    site_a: int
    site_b: int
    yard: int
    truck: int
    other_tenant_site: int
    other_tenant_truck: int


@pytest.fixture
def places(offices: tuple[Office, Office], factory: sessionmaker[Session]) -> Places:
    acme, globex = offices
    with transaction(factory) as s:
        customer = create_customer(s, tenant_id=acme.tenant_id, number="1001", name="Jansen")
        a = Site(tenant_id=acme.tenant_id, name="Bouwplaats A", customer_id=customer.id)
        b = Site(tenant_id=acme.tenant_id, name="Bouwplaats B", customer_id=customer.id)
        yard = Site(tenant_id=acme.tenant_id, name="Eigen terrein", kind="own_yard")
        foreign = Site(tenant_id=globex.tenant_id, name="Elders")
        s.add_all([a, b, yard, foreign])
        s.flush()
        truck = create_vehicle(s, tenant_id=acme.tenant_id, plate="TR-1")
        their_truck = create_vehicle(s, tenant_id=globex.tenant_id, plate="TR-1")
        return Places(customer.id, a.id, b.id, yard.id, truck.id, foreign.id, their_truck.id)


def test_create_move_by_hand_and_audit(
    client: TestClient, offices: tuple[Office, Office], places: Places
) -> None:
    acme, globex = offices
    r = client.post(
        "/api/v1/containers",
        headers=acme.auth(),
        json={
            "number": "C-001",
            "container_type": "afzetcontainer",
            "volume_m3": "10",
            "rfid_tag": "e2000017",
        },
    )
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["location_kind"] == "yard" and c["site_id"] is None and c["located_since"] is not None
    assert c["rfid_tag"] == "E2000017" and c["last_order_id"] is None
    r = client.post(
        "/api/v1/containers",
        headers=acme.auth(),
        json={"number": "C-002", "container_type": "afzetcontainer", "rfid_tag": "E2000017"},
    )
    assert r.status_code == 409 and r.json()["detail"].startswith("rfid_tag")
    r = client.post(
        "/api/v1/containers", headers=acme.auth(), json={"number": "C-001", "container_type": "x"}
    )
    assert r.status_code == 409 and r.json()["error"] == "ContainerExists"

    url = f"/api/v1/containers/{c['id']}"
    r = client.patch(
        url, headers=acme.auth(), json={"location_kind": "site", "site_id": places.site_a}
    )
    assert r.status_code == 200, r.text
    assert r.json()["site_id"] == places.site_a and r.json()["located_since"] != c["located_since"]
    # a new location kind clears the reference that no longer applies
    r = client.patch(
        url, headers=acme.auth(), json={"location_kind": "vehicle", "vehicle_id": places.truck}
    )
    assert (
        r.status_code == 200
        and r.json()["site_id"] is None
        and r.json()["vehicle_id"] == places.truck
    )
    listed = client.get(
        f"/api/v1/containers?location_kind=vehicle&vehicle_id={places.truck}", headers=acme.auth()
    )
    assert [x["number"] for x in listed.json()["items"]] == ["C-001"]
    history = client.get(f"{url}/history", headers=acme.auth()).json()
    moves = [
        (h["field"], h["old_value"], h["new_value"]) for h in history if h["old_value"] is not None
    ]
    assert ("location_kind", "yard", "site") in moves and (
        "location_kind",
        "site",
        "vehicle",
    ) in moves
    assert ("site_id", str(places.site_a), None) in moves
    # isolation
    assert client.get(url, headers=globex.auth()).status_code == 404
    assert client.patch(url, headers=globex.auth(), json={"number": "X"}).status_code == 404
    assert client.get("/api/v1/containers", headers=globex.auth()).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "error", "start"),
    [
        ({"location_kind": "site"}, "ContainerLocationInvalid", "site_id: location site needs"),
        ({"location_kind": "vehicle"}, "ContainerLocationInvalid", "vehicle_id: location vehicle"),
        ({"location_kind": "unknown", "site_id": "A"}, "ContainerLocationInvalid", "site_id:"),
        (
            {"location_kind": "yard", "site_id": "A"},
            "ContainerLocationInvalid",
            "site_id: site Bouwplaats A",
        ),
        ({"location_kind": "site", "site_id": "F"}, "UnknownReference", "site_id: no such record"),
        (
            {"location_kind": "vehicle", "vehicle_id": "F"},
            "UnknownReference",
            "vehicle_id: no such",
        ),
        ({"volume_m3": 0}, "ValidationError", None),
        ({"volume_m3": "1.2345"}, "ValidationError", None),
        ({"location_kind": "garage"}, "ValidationError", None),
        ({"last_order_id": 1}, "ValidationError", None),
    ],
)
def test_refused_containers(
    client: TestClient,
    offices: tuple[Office, Office],
    places: Places,
    body: dict[str, object],
    error: str,
    start: str | None,
) -> None:
    acme, _ = offices
    refs = {"A": places.site_a, "F": places.other_tenant_site}
    if body.get("vehicle_id") == "F":
        body = body | {"vehicle_id": places.other_tenant_truck}
    body = {k: refs.get(v, v) if k == "site_id" else v for k, v in body.items()}
    r = client.post(
        "/api/v1/containers",
        headers=acme.auth(),
        json={"number": "C-9", "container_type": "rol"} | body,
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == error
    if start:
        assert r.json()["detail"].startswith(start)


def _order(s: Session, tenant_id: int, places: Places, n: int, **fields: object) -> Order:
    order = Order(
        tenant_id=tenant_id,
        number=f"2026-{n:06d}",
        source="manual",
        customer_id=places.customer_id,
        **fields,
    )
    s.add(order)
    s.flush()
    return order


def _container(s: Session, tenant_id: int, number: str, **fields: object) -> Container:
    data = ContainerCreate.model_validate(
        {"number": number, "container_type": "afzetcontainer"} | fields
    )
    return create_container(s, tenant_id=tenant_id, data=data, by_user_id=None)


def test_move_for_order_place_collect_exchange(
    offices: tuple[Office, Office], places: Places, factory: sessionmaker[Session]
) -> None:
    acme, _ = offices
    t = acme.tenant_id
    with transaction(factory) as s:
        new = _container(s, t, "C-NEW")
        # placement: from the yard to the order's site
        place = _order(
            s,
            t,
            places,
            1,
            order_type="container_place",
            site_id=places.site_a,
            container_id=new.id,
        )
        assert move_for_order(s, order=place, at=AT) == []
        assert (new.location_kind, new.site_id, new.vehicle_id) == ("site", places.site_a, None)
        assert new.located_since == AT and new.last_order_id == place.id
        reasons = [
            r.reason
            for r in s.scalars(
                select(FieldChange).where(
                    FieldChange.entity_id == new.id, FieldChange.old_value.is_not(None)
                )
            )
        ]
        assert reasons and set(reasons) == {"order 2026-000001 (container_place)"}

        # exchange: another container is placed, the one that stood there goes onto the truck
        other = _container(s, t, "C-OTHER", location_kind="vehicle", vehicle_id=places.truck)
        exchange = _order(
            s,
            t,
            places,
            2,
            order_type="container_exchange",
            site_id=places.site_a,
            vehicle_id=places.truck,
            container_id=other.id,
        )
        assert move_for_order(s, order=exchange, at=AT) == []
        assert (other.location_kind, other.site_id) == ("site", places.site_a)
        assert (new.location_kind, new.site_id, new.vehicle_id) == ("vehicle", None, places.truck)
        assert new.last_order_id == exchange.id == other.last_order_id

        # collection without a vehicle: back to the yard
        collect = _order(
            s,
            t,
            places,
            3,
            order_type="container_collect",
            site_id=places.site_a,
            container_id=other.id,
        )
        assert move_for_order(s, order=collect, at=AT) == []
        assert (other.location_kind, other.site_id, other.vehicle_id) == ("yard", None, None)

        # no container on the order, or an order type that moves none: nothing happens
        assert (
            move_for_order(
                s,
                order=_order(s, t, places, 4, order_type="container_place", site_id=places.site_b),
                at=AT,
            )
            == []
        )
        walk_in = _order(s, t, places, 5, order_type="walk_in", container_id=other.id)
        assert move_for_order(s, order=walk_in, at=AT) == [] and other.location_kind == "yard"


def test_move_for_order_reports_what_does_not_add_up(
    offices: tuple[Office, Office], places: Places, factory: sessionmaker[Session]
) -> None:
    acme, _ = offices
    t = acme.tenant_id
    with transaction(factory) as s:
        # an exchange where nothing stood: the new one is placed all the same
        c0 = _container(s, t, "C-0")
        empty = _order(
            s,
            t,
            places,
            9,
            order_type="container_exchange",
            site_id=places.site_a,
            container_id=c0.id,
        )
        assert move_for_order(s, order=empty, at=AT) == [
            "no container was recorded at site Bouwplaats A to take away"
        ]
        assert c0.site_id == places.site_a

        c = _container(s, t, "C-1", location_kind="site", site_id=places.site_b)
        # collected at A, but recorded at B: a fact from the truck is never refused
        collect = _order(
            s,
            t,
            places,
            1,
            order_type="container_collect",
            site_id=places.site_a,
            vehicle_id=places.truck,
            container_id=c.id,
        )
        assert move_for_order(s, order=collect, at=AT) == [
            "container C-1 was recorded at site Bouwplaats B, not at the order's site Bouwplaats A"
        ]
        assert (c.location_kind, c.vehicle_id, c.last_order_id) == (
            "vehicle",
            places.truck,
            collect.id,
        )

        # placed at A while recorded at B
        c2 = _container(s, t, "C-2", location_kind="site", site_id=places.site_b)
        place = _order(
            s, t, places, 2, order_type="container_place", site_id=places.site_a, container_id=c2.id
        )
        assert move_for_order(s, order=place, at=AT) == [
            "container C-2 was recorded at site Bouwplaats B, not at the yard or on a vehicle, "
            "before it was placed at site Bouwplaats A"
        ]
        assert c2.site_id == places.site_a

        # exchange at B where two containers of different types stand: the one of the new
        # one's type goes
        roll = _container(
            s, t, "R-1", container_type="rolcontainer", location_kind="site", site_id=places.site_b
        )
        skip = _container(s, t, "C-3", location_kind="site", site_id=places.site_b)
        c4 = _container(s, t, "C-4")
        exchange = _order(
            s,
            t,
            places,
            3,
            order_type="container_exchange",
            site_id=places.site_b,
            container_id=c4.id,
        )
        assert move_for_order(s, order=exchange, at=AT) == []
        assert (
            skip.location_kind == "yard"
            and roll.location_kind == "site"
            and c4.site_id == places.site_b
        )

        # two of the same type: ambiguous, none is taken away
        _container(s, t, "C-5", location_kind="site", site_id=places.site_b)
        c6 = _container(s, t, "C-6")
        twice = _order(
            s,
            t,
            places,
            4,
            order_type="container_exchange",
            site_id=places.site_b,
            container_id=c6.id,
        )
        assert move_for_order(s, order=twice, at=AT) == [
            "containers C-4, C-5 were recorded at site Bouwplaats B: which one the exchange took "
            "away is unknown, none was moved"
        ]
        assert [
            x.number
            for x in s.scalars(
                select(Container).where(Container.site_id == places.site_b).order_by(Container.id)
            )
        ] == ["R-1", "C-4", "C-5", "C-6"]

        # an order without a site cannot place anything
        c7 = _container(s, t, "C-7")
        nowhere = _order(s, t, places, 5, order_type="container_place", container_id=c7.id)
        assert move_for_order(s, order=nowhere, at=AT) == [
            "order 2026-000005 has no site: container C-7 was not moved"
        ]
        assert c7.location_kind == "yard"
