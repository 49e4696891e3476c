"""The customer portal API: a customer user requests orders at its own sites, follows them
and downloads their documents, and can never see or guess another customer's."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cloud.customers.models import Customer, Site
from cloud.db import transaction, utcnow
from cloud.devices.service import create_device
from cloud.documents.models import Document
from cloud.documents.storage import DocumentStore
from cloud.entrypoints.app import create_app
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderType
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
from cloud.settings import Settings
from cloud.tenancy.service import create_tenant, create_user, issue_token
from cloud.weighings.models import Weighing

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
T0 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


@dataclass
class Party:
    customer_id: int
    site_id: int
    token: str
    order_ids: list[int]


@dataclass
class World:
    tenant_id: int
    a: Party
    b: Party
    office_token: str
    driver_token: str
    ticket_doc_id: int
    photo_doc_id: int
    b_doc_id: int


def _party(s: Session, tenant_id: int, number: str, name: str) -> Party:
    customer = Customer(tenant_id=tenant_id, number=number, name=name)
    s.add(customer)
    s.flush()
    site = Site(
        tenant_id=tenant_id,
        name=f"{name} werf",
        customer_id=customer.id,
        street="Werfweg 1",
        postal_code="1000 AA",
        city="Amsterdam",
    )
    s.add(site)
    s.flush()
    user = create_user(
        s,
        tenant_id=tenant_id,
        email=f"klant{number}@example.com",
        name=name,
        password="secret-pw-123",
        roles=["customer"],
        customer_id=customer.id,
    )
    token = issue_token(s, user_id=user.id, ttl=timedelta(hours=1))[0]
    orders = [
        create_order(
            s,
            tenant_id=tenant_id,
            data=OrderCreate(
                customer_id=customer.id,
                order_type=OrderType.CONTAINER_PLACE,
                site_id=site.id,
                reference=f"{name}-{i}",
            ),
            source="manual",
        ).id
        for i in range(3)
    ]
    return Party(customer.id, site.id, token, orders)


def _document(
    s: Session, store: DocumentStore, tenant_id: int, order_id: int, data: bytes, **kw: Any
) -> int:
    store.put(data)
    doc = Document(
        tenant_id=tenant_id,
        order_id=order_id,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        stored=True,
        **kw,
    )
    s.add(doc)
    s.flush()
    return doc.id


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def world(factory: sessionmaker[Session], data_dir: Path) -> World:
    store = DocumentStore(data_dir / "documents")
    with transaction(factory) as s:
        tenant = create_tenant(s, slug="acme", name="Acme B.V.")
        a = _party(s, tenant.id, "1001", "Aannemer")
        b = _party(s, tenant.id, "1002", "Bouwer")
        office = create_user(
            s,
            tenant_id=tenant.id,
            email="planner@acme.example",
            name="P",
            password="secret-pw-123",
            roles=["planner"],
        )
        driver = create_user(
            s,
            tenant_id=tenant.id,
            email="driver@acme.example",
            name="D",
            password="secret-pw-123",
            roles=["driver"],
        )
        ticket = _document(
            s,
            store,
            tenant.id,
            a.order_ids[0],
            PDF,
            kind="ticket",
            filename="weegbon 1.pdf",
            content_type="application/pdf",
        )
        photo = _document(
            s,
            store,
            tenant.id,
            a.order_ids[0],
            b"a photo, as text",
            kind="photo",
            filename="foto.txt",
            content_type="text/plain",
        )
        b_doc = _document(
            s,
            store,
            tenant.id,
            b.order_ids[0],
            PDF + b"%b\n",
            kind="ticket",
            filename="b.pdf",
            content_type="application/pdf",
        )
        # A's second order has a weighing but no ticket document.
        create_device(s, tenant_id=tenant.id, device_id="wb-1", kind="weighbridge")
        s.add(
            Weighing(
                tenant_id=tenant.id,
                device_id="wb-1",
                order_id=a.order_ids[1],
                message_id="00000000-0000-0000-0000-000000000001",
                seq=1,
                ticket_number="WB-000042",
                instrument_id="ind-1",
                first_at=T0,
                first_weight=Decimal("32460"),
                second_at=T0 + timedelta(minutes=20),
                second_weight=Decimal("14220"),
                unit="kg",
                gross=Decimal("32460"),
                tare=Decimal("14220"),
                net=Decimal("18240"),
                tare_kind="measured",
                plate="BX-123-Z",
                occurred_at=T0 + timedelta(minutes=21),
            )
        )
        return World(
            tenant.id,
            a,
            b,
            issue_token(s, user_id=office.id, ttl=None)[0],
            issue_token(s, user_id=driver.id, ttl=None)[0],
            ticket,
            photo,
            b_doc,
        )


@pytest.fixture
def client(factory: sessionmaker[Session], db_url: str, data_dir: Path) -> Iterator[TestClient]:
    app = create_app(Settings(environment="test", database_url=db_url, data_dir=data_dir), factory)
    with TestClient(app) as c:
        yield c


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def request_body(site_id: int, **kw: Any) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "order_type": "container_exchange",
        "requested_date": (utcnow().date() + timedelta(days=2)).isoformat(),
        "container_type": "afzetcontainer 6m3",
        "reference": "PO-1",
        **kw,
    }


def test_a_customer_lists_only_its_own_orders(client: TestClient, world: World) -> None:
    page = client.get("/api/v1/portal/orders", headers=auth(world.a.token)).json()
    assert sorted(o["id"] for o in page["items"]) == sorted(world.a.order_ids)
    assert page["next_after"] is None
    assert "review_reasons" not in page["items"][0] and "customer_id" not in page["items"][0]


def test_keyset_pages_walk_every_order_once(client: TestClient, world: World) -> None:
    seen: list[int] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["after"] = after
        page = client.get("/api/v1/portal/orders", params=params, headers=auth(world.a.token))
        body = page.json()
        seen += [o["id"] for o in body["items"]]
        after = body["next_after"]
        if after is None:
            break
    assert seen == sorted(world.a.order_ids, reverse=True)
    # Paging past another customer's id shows nothing of theirs either.
    r = client.get(
        "/api/v1/portal/orders",
        params={"after": max(world.b.order_ids) + 1},
        headers=auth(world.a.token),
    )
    assert {o["id"] for o in r.json()["items"]} == set(world.a.order_ids)


def test_guessing_order_ids_finds_nothing_of_another_customer(
    client: TestClient, world: World
) -> None:
    everything = world.a.order_ids + world.b.order_ids
    for order_id in range(1, max(everything) + 5):
        r = client.get(f"/api/v1/portal/orders/{order_id}", headers=auth(world.a.token))
        if order_id in world.a.order_ids:
            assert r.status_code == 200
            continue
        assert r.status_code == 404, order_id
        assert r.json() == {"error": "OrderNotFound", "detail": f"order {order_id} not found"}
        for path in ("documents", f"documents/{world.b_doc_id}", "ticket"):
            r = client.get(f"/api/v1/portal/orders/{order_id}/{path}", headers=auth(world.a.token))
            assert r.status_code == 404, (order_id, path)
            assert r.json()["error"] == "OrderNotFound"


def test_a_customer_cannot_request_at_another_customers_site(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    h = auth(world.a.token)
    theirs = client.post("/api/v1/portal/orders", json=request_body(world.b.site_id), headers=h)
    missing = client.post("/api/v1/portal/orders", json=request_body(987_654), headers=h)
    assert theirs.status_code == missing.status_code == 422
    assert theirs.json()["error"] == missing.json()["error"] == "UnknownReference"
    assert "site_id" in theirs.json()["detail"]
    assert theirs.json()["detail"].replace(str(world.b.site_id), "X") == missing.json()[
        "detail"
    ].replace("987654", "X")
    # No way to name the customer, status or number either.
    for extra in ({"customer_id": world.b.customer_id}, {"status": "planned"}, {"number": "1"}):
        r = client.post(
            "/api/v1/portal/orders", json=request_body(world.a.site_id, **extra), headers=h
        )
        assert r.status_code == 422, extra
    with factory() as s:
        assert s.query(Order).count() == 6


def test_a_customer_requests_an_order_and_follows_its_status(
    client: TestClient, world: World, factory: sessionmaker[Session]
) -> None:
    h = auth(world.a.token)
    r = client.post("/api/v1/portal/orders", json=request_body(world.a.site_id), headers=h)
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["source"] == "portal" and order["status"] == "created"
    assert [c["status"] for c in order["history"]] == ["created"]
    with transaction(factory) as s:
        row = s.get(Order, order["id"])
        assert row is not None
        assert row.customer_id == world.a.customer_id and row.source_ref is None
        change_status(s, order=row, to=OrderStatus.PLANNED, reason="planned for Tuesday")
    followed = client.get(f"/api/v1/portal/orders/{order['id']}", headers=h).json()
    assert followed["status"] == "planned"
    assert [c["status"] for c in followed["history"]] == ["created", "planned"]
    planned = client.get("/api/v1/portal/orders", params={"status": "planned"}, headers=h)
    assert [o["id"] for o in planned.json()["items"]] == [order["id"]]
    r = client.get(f"/api/v1/portal/orders/{order['id']}", headers=auth(world.b.token))
    assert r.status_code == 404


def test_a_request_id_makes_one_order_per_customer(client: TestClient, world: World) -> None:
    a, b = auth(world.a.token), auth(world.b.token)
    first = client.post(
        "/api/v1/portal/orders", json=request_body(world.a.site_id, request_id="r-1"), headers=a
    )
    again = client.post(
        "/api/v1/portal/orders", json=request_body(world.a.site_id, request_id="r-1"), headers=a
    )
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    # Another customer's identical request id is its own: no order of A's comes back.
    theirs = client.post(
        "/api/v1/portal/orders", json=request_body(world.b.site_id, request_id="r-1"), headers=b
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]


def test_sites_are_the_customers_own(client: TestClient, world: World) -> None:
    sites = client.get("/api/v1/portal/sites", headers=auth(world.a.token)).json()
    assert [s["id"] for s in sites] == [world.a.site_id]


def test_documents_and_tickets(client: TestClient, world: World) -> None:
    h = auth(world.a.token)
    first, second = world.a.order_ids[0], world.a.order_ids[1]
    listed = client.get(f"/api/v1/portal/orders/{first}/documents", headers=h).json()
    assert {d["id"] for d in listed["documents"]} == {world.ticket_doc_id, world.photo_doc_id}
    assert listed["weighings"] == []  # a ticket PDF is there
    r = client.get(f"/api/v1/portal/orders/{first}/documents/{world.ticket_doc_id}", headers=h)
    assert r.status_code == 200 and r.content == PDF
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment")
    ticket = client.get(f"/api/v1/portal/orders/{first}/ticket", headers=h)
    assert ticket.status_code == 200 and ticket.content == PDF
    # No ticket document: the weighings as data.
    as_data = client.get(f"/api/v1/portal/orders/{second}/documents", headers=h).json()
    assert as_data["documents"] == []
    [weighing] = as_data["weighings"]
    assert weighing["ticket_number"] == "WB-000042"
    assert (weighing["gross"], weighing["tare"], weighing["net"], weighing["unit"]) == (
        "32460",
        "14220",
        "18240",
        "kg",
    )
    ticket = client.get(f"/api/v1/portal/orders/{second}/ticket", headers=h)
    assert ticket.status_code == 200 and ticket.json()[0]["net"] == "18240"
    # Neither: 404.
    third = world.a.order_ids[2]
    assert client.get(f"/api/v1/portal/orders/{third}/ticket", headers=h).status_code == 404


def test_another_customers_document_is_not_found_by_any_path(
    client: TestClient, world: World
) -> None:
    a = auth(world.a.token)
    mine, theirs = world.a.order_ids[0], world.b.order_ids[0]
    via_mine = client.get(f"/api/v1/portal/orders/{mine}/documents/{world.b_doc_id}", headers=a)
    assert via_mine.status_code == 404 and via_mine.json()["error"] == "DocumentNotFound"
    nothing = client.get(f"/api/v1/portal/orders/{mine}/documents/99999", headers=a)
    assert nothing.json() == {
        **via_mine.json(),
        "detail": via_mine.json()["detail"].replace(str(world.b_doc_id), "99999"),
    }
    via_theirs = client.get(f"/api/v1/portal/orders/{theirs}/documents/{world.b_doc_id}", headers=a)
    assert via_theirs.status_code == 404
    # B's own document does not open under A's order for B either (it belongs elsewhere).
    b = auth(world.b.token)
    crossed = client.get(
        f"/api/v1/portal/orders/{theirs}/documents/{world.ticket_doc_id}", headers=b
    )
    assert crossed.status_code == 404


def test_who_may_use_the_portal(client: TestClient, world: World) -> None:
    office = auth(world.office_token)
    assert client.get("/api/v1/portal/sites", headers=office).status_code == 403
    r = client.post("/api/v1/portal/orders", json=request_body(world.a.site_id), headers=office)
    assert r.status_code == 403
    driver = auth(world.driver_token)
    assert client.get("/api/v1/portal/sites", headers=driver).status_code == 403
    r = client.post("/api/v1/portal/orders", json=request_body(world.a.site_id), headers=driver)
    assert r.status_code == 403
    # A driver without a vehicle sees no order (the orders' own scope).
    assert client.get("/api/v1/portal/orders", headers=driver).json()["items"] == []
    assert client.get("/api/v1/portal/orders").status_code == 401
