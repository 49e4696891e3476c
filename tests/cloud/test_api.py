"""The HTTP API against the real database: auth, tenant scoping, validation errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.api.app import create_app
from cloud.db import transaction
from cloud.ingest.runner import ingest_batch
from cloud.settings import Settings
from cloud.tenancy.service import create_user, issue_token
from tests.support.factories import create_world, incoming, ticket

pytestmark = pytest.mark.integration


@pytest.fixture
def client(factory, db_url):  # type: ignore[no-untyped-def]
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def two_tenants(factory):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        a = create_world(s, slug="acme", device_id="wb-a")
        b = create_world(s, slug="globex", device_id="wb-b")
    ingest_batch(
        factory,
        [
            incoming(ticket("wb-a", number="A-1")),
            incoming(ticket("wb-b", number="B-1")),
            incoming(ticket("wb-b", number="B-2", seq=2)),
        ],
    )
    return a, b


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_orders_need_a_token(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/orders")
    assert r.status_code == 401
    assert r.json()["error"] == "MissingToken"
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.get("/api/v1/orders", headers=auth("not-a-token"))
    assert r.status_code == 401 and r.json()["error"] == "InvalidToken"


def test_login_then_list_only_my_tenants_orders(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    r = client.post(
        "/api/v1/auth/token", json={"email": "planner@acme.example", "password": "wrong"}
    )
    assert r.status_code == 401 and r.json()["error"] == "InvalidCredentials"
    r = client.post(
        "/api/v1/auth/token", json={"email": "Planner@ACME.example", "password": "secret-pw"}
    )
    assert r.status_code == 200
    token = r.json()["access_token"]
    page = client.get("/api/v1/orders", headers=auth(token)).json()
    assert page["total"] == 1
    order = page["items"][0]
    assert order["status"] == "executed" and order["weighings"][0]["ticket_number"] == "A-1"
    assert order["weighings"][0]["net"] == "18240"
    b_page = client.get("/api/v1/orders", headers=auth(two_tenants[1].token)).json()
    assert {o["weighings"][0]["ticket_number"] for o in b_page["items"]} == {"B-1", "B-2"}


def test_another_tenants_order_is_not_found(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, b = two_tenants
    b_order = client.get("/api/v1/orders", headers=auth(b.token)).json()["items"][0]
    r = client.get(f"/api/v1/orders/{b_order['id']}", headers=auth(a.token))
    assert r.status_code == 404 and r.json()["error"] == "OrderNotFound"
    assert client.get(f"/api/v1/orders/{b_order['id']}", headers=auth(b.token)).status_code == 200


def test_customer_users_see_their_own_orders_only(client, factory, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    with transaction(factory) as s:
        from cloud.customers.service import create_customer

        other = create_customer(s, tenant_id=a.tenant_id, number="2002", name="Other")
        u = create_user(
            s,
            tenant_id=a.tenant_id,
            email="klant@other.example",
            name="K",
            password="x-pw-123",
            roles=["customer"],
            customer_id=other.id,
        )
        token, _ = issue_token(s, user_id=u.id, ttl=None)
    assert client.get("/api/v1/orders", headers=auth(token)).json()["total"] == 0


def test_create_order_validates_fields(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    r = client.post(
        "/api/v1/orders",
        headers=auth(a.token),
        json={
            "customer_id": 0,
            "order_type": "teleport",
            "expected_quantity_kg": "-5",
            "surprise": 1,
        },
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "ValidationError"
    fields = {tuple(e["loc"][1:]) for e in body["detail"]}
    assert {("customer_id",), ("order_type",), ("expected_quantity_kg",), ("surprise",)} <= fields


def test_create_order_and_read_it_back(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, b = two_tenants
    body = {
        "customer_id": a.customer_id,
        "order_type": "container_place",
        "requested_date": "2026-12-01",
        "container_type": "10 m3",
        "expected_quantity_kg": "4200.5",
    }
    r = client.post("/api/v1/orders", headers=auth(a.token), json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "created" and created["source"] == "manual"
    assert (
        created["expected_quantity_kg"] == "4200.500" or created["expected_quantity_kg"] == "4200.5"
    )
    assert created["history"][0]["by_user_id"] == a.user_id
    got = client.get(f"/api/v1/orders/{created['id']}", headers=auth(a.token))
    assert got.status_code == 200 and got.json()["number"] == created["number"]
    # a customer id of another tenant is not found, not silently accepted
    r = client.post(
        "/api/v1/orders", headers=auth(a.token), json={**body, "customer_id": b.customer_id}
    )
    assert r.status_code == 404 and r.json()["error"] == "CustomerNotFound"


def test_drivers_cannot_create_orders(client, factory, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    with transaction(factory) as s:
        u = create_user(
            s,
            tenant_id=a.tenant_id,
            email="driver@acme.example",
            name="D",
            password="pw-123456",
            roles=["driver"],
        )
        token, _ = issue_token(s, user_id=u.id, ttl=None)
    r = client.post(
        "/api/v1/orders",
        headers=auth(token),
        json={"customer_id": a.customer_id, "order_type": "other"},
    )
    assert r.status_code == 403 and r.json()["error"] == "RoleRequired"


def test_status_filter_and_paging(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    _, b = two_tenants
    r = client.get("/api/v1/orders?status=executed&limit=1", headers=auth(b.token)).json()
    assert r["total"] == 2 and len(r["items"]) == 1
    assert client.get("/api/v1/orders?status=bogus", headers=auth(b.token)).status_code == 422
    assert client.get("/api/v1/orders?status=planned", headers=auth(b.token)).json()["total"] == 0


def test_dashboard_page_and_health(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/")
    assert page.status_code == 200 and "<title>OMS" in page.text and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
