"""The HTTP API against the real database: auth, tenant scoping, validation errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.db import transaction
from cloud.devices.service import create_device
from cloud.documents.models import Document
from cloud.entrypoints.app import create_app
from cloud.fleet.models import Vehicle
from cloud.fleet.service import create_vehicle
from cloud.ingest.runner import ingest_batch
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
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
    assert len(page["items"]) == 1 and page["next"] is None
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
    assert client.get("/api/v1/orders", headers=auth(token)).json()["items"] == []


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
    assert r.status_code == 422 and r.json()["error"] == "UnknownReference"
    assert r.json()["detail"].startswith("customer_id:")


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
    assert r.status_code == 403 and r.json()["error"] == "NotAllowed"


def test_status_filter_and_paging(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    _, b = two_tenants
    r = client.get("/api/v1/orders?status=executed&limit=1", headers=auth(b.token)).json()
    assert len(r["items"]) == 1 and r["next"] and r["limit"] == 1
    r2 = client.get(
        "/api/v1/orders", params={"status": "executed", "limit": 1, "after": r["next"]},
        headers=auth(b.token),
    ).json()  # fmt: skip
    assert len(r2["items"]) == 1 and r2["items"][0]["id"] < r["items"][0]["id"]
    assert r2["next"] is None
    assert client.get("/api/v1/orders?status=bogus", headers=auth(b.token)).status_code == 422
    assert client.get("/api/v1/orders?status=planned", headers=auth(b.token)).json()["items"] == []


def test_dashboard_page_and_health(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login")
    assert (
        page.status_code == 200 and "· OMS</title>" in page.text and "/assets/app.js" in page.text
    )
    assert client.get("/assets/app.js").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}


# -- finding 1: references across tenants and customers ---------------------------------------


@pytest.mark.parametrize("field", ["customer_id", "site_id", "vehicle_id"])
def test_references_of_another_tenant_are_unknown(client, factory, two_tenants, field) -> None:  # type: ignore[no-untyped-def]
    """Issue 8, finding 1: another tenant's site or vehicle was accepted, and its plate shown."""
    a, b = two_tenants
    body = {"customer_id": a.customer_id, "order_type": "container_place", field: getattr(b, field)}
    r = client.post("/api/v1/orders", headers=auth(a.token), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "UnknownReference"
    assert r.json()["detail"].startswith(f"{field}:")
    assert b.plate not in r.text
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Order)) == 3  # the ingested ones only


def test_a_customers_site_and_vehicle_only_serve_that_customer(
    client, factory, two_tenants
) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    with transaction(factory) as s:
        other = create_customer(s, tenant_id=a.tenant_id, number="3003", name="Other")
        their_site = Site(tenant_id=a.tenant_id, name="their yard", customer_id=other.id)
        s.add(their_site)
        s.flush()
        their_site_id, other_id = their_site.id, other.id
    base = {"customer_id": a.customer_id, "order_type": "container_place"}
    # a site of another customer of the same tenant
    r = client.post(
        "/api/v1/orders", headers=auth(a.token), json={**base, "site_id": their_site_id}
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("site_id:"), r.text
    # the world's vehicle belongs to a.customer_id: not usable for another customer
    r = client.post(
        "/api/v1/orders",
        headers=auth(a.token),
        json={**base, "customer_id": other_id, "vehicle_id": a.vehicle_id},
    )
    assert r.status_code == 422 and r.json()["detail"].startswith("vehicle_id:"), r.text
    # the tenant's own yard (no customer) and the customer's own vehicle are fine
    r = client.post(
        "/api/v1/orders",
        headers=auth(a.token),
        json={**base, "site_id": a.site_id, "vehicle_id": a.vehicle_id},
    )
    assert r.status_code == 201, r.text
    assert r.json()["plate"] == a.plate


# -- finding 9: order dates in a sane range ----------------------------------------------------


@pytest.mark.parametrize(
    "field,value",
    [
        ("requested_date", "1999-12-31"),
        ("requested_date", "9999-12-31"),
        ("window_start", "0001-01-01T00:00:00+01:00"),
        ("window_end", "9999-12-31T23:59:59-23:59"),
    ],
)
def test_order_dates_outside_the_planning_range_are_refused(
    client, two_tenants, field, value
) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    body = {"customer_id": a.customer_id, "order_type": "other", field: value}
    r = client.post("/api/v1/orders", headers=auth(a.token), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "OrderDateOutOfRange"
    assert r.json()["detail"].startswith(f"{field}:")


def test_order_dates_within_the_range_are_accepted(client, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    today = datetime.now(UTC).date()
    body = {
        "customer_id": a.customer_id,
        "order_type": "other",
        "requested_date": today.replace(year=today.year + 4).isoformat(),
        "window_start": "2000-01-01T08:00:00+01:00",
        "window_end": "2000-01-01T09:00:00+01:00",
    }
    r = client.post("/api/v1/orders", headers=auth(a.token), json=body)
    assert r.status_code == 201, r.text


# -- finding 11: drivers see the jobs of the vehicle they drive --------------------------------


def _driver(factory, tenant_id: int, email: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        u = create_user(
            s, tenant_id=tenant_id, email=email, name="D", password="pw-123456", roles=["driver"]
        )
        token, _ = issue_token(s, user_id=u.id, ttl=None)
        return u.id, token


def test_drivers_see_only_the_planned_jobs_of_their_vehicle(client, factory, two_tenants) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    driver_id, token = _driver(factory, a.tenant_id, "driver@acme.example")
    _, other_token = _driver(factory, a.tenant_id, "driver2@acme.example")
    with transaction(factory) as s:
        vehicle = s.get(Vehicle, a.vehicle_id)
        vehicle.driver_user_id = driver_id
        spare = create_vehicle(s, tenant_id=a.tenant_id, plate="ZZ-999-Z")

        def order(vehicle_id: int | None, planned: bool) -> int:
            o = create_order(
                s,
                tenant_id=a.tenant_id,
                data=OrderCreate(
                    customer_id=a.customer_id, order_type="other", vehicle_id=vehicle_id
                ),
                source="manual",
            )
            if planned:
                change_status(s, order=o, to=OrderStatus.PLANNED)
            return o.id

        mine = order(a.vehicle_id, planned=True)
        not_yet_planned = order(a.vehicle_id, planned=False)
        other_vehicle = order(spare.id, planned=True)
        s.add(
            Document(
                tenant_id=a.tenant_id,
                order_id=other_vehicle,
                kind="other",
                filename="x.txt",
                content_type="text/plain",
                size=1,
                sha256="0" * 64,
                stored=False,
            )
        )

    page = client.get("/api/v1/orders", headers=auth(token)).json()
    assert [o["id"] for o in page["items"]] == [mine] and page["next"] is None
    assert client.get(f"/api/v1/orders/{mine}", headers=auth(token)).status_code == 200
    for hidden in (not_yet_planned, other_vehicle):
        for sub in ("", "/measurements", "/documents"):
            r = client.get(f"/api/v1/orders/{hidden}{sub}", headers=auth(token))
            assert r.status_code == 404 and r.json()["error"] == "OrderNotFound", (hidden, sub)
    with factory() as s:
        doc_id = s.scalar(select(Document.id).where(Document.order_id == other_vehicle))
    r = client.get(f"/api/v1/documents/{doc_id}/content", headers=auth(token))
    assert r.status_code == 404
    # a driver who drives nothing sees nothing; the office still sees everything
    assert client.get("/api/v1/orders", headers=auth(other_token)).json()["items"] == []
    assert len(client.get("/api/v1/orders", headers=auth(a.token)).json()["items"]) == 4


# -- finding 4: input limits and the error shape -----------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/orders/{2**31}",
        f"/api/v1/orders/{2**63}/measurements",
        f"/api/v1/orders/{2**31}/documents",
        f"/api/v1/documents/{2**31}/content",
        "/api/v1/orders/0",
        "/api/v1/orders/-1",
        "/api/v1/orders/abc",
        "/api/v1/orders?after=" + "x" * 201,
        "/api/v1/orders?after=not%20a%20cursor",
        "/api/v1/orders?limit=0",
        "/api/v1/orders?limit=x",
    ],
)
def test_out_of_range_ids_and_offsets_are_422(client, two_tenants, path) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    r = client.get(path, headers=auth(a.token))
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "ValidationError"


@pytest.mark.parametrize(
    "field,value",
    [
        ("customer_id", 2**31),
        ("site_id", 2**63),
        ("vehicle_id", -1),
        ("material", "m" * 65),
        ("material", "   "),
        ("container_type", "c" * 61),
        ("reference", "r" * 65),
        ("notes", "n" * 2001),
        ("customer_id", "1; drop table orders"),
        ("expected_quantity_kg", "1e400"),
        ("requested_date", "2026-02-30"),
    ],
)
def test_order_bodies_out_of_range_are_422(client, two_tenants, field, value) -> None:  # type: ignore[no-untyped-def]
    a, _ = two_tenants
    body = {"customer_id": a.customer_id, "order_type": "other", field: value}
    r = client.post("/api/v1/orders", headers=auth(a.token), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "ValidationError"
    assert any(e["loc"][1:2] == [field] for e in r.json()["detail"]), r.json()


def test_an_order_with_the_longest_fields_can_be_dispatched(client, factory, two_tenants) -> None:  # type: ignore[no-untyped-def]
    """The order's limits fit the job contract too: dispatching it must not fail."""
    a, _ = two_tenants
    with transaction(factory) as s:
        truck = create_vehicle(s, tenant_id=a.tenant_id, plate="TR-001-K")
        create_device(
            s, tenant_id=a.tenant_id, device_id="truck-a", kind="truck", vehicle_id=truck.id
        )
        truck_id = truck.id
    longest = {
        name: "x" * prop["anyOf"][0]["maxLength"]
        for name, prop in OrderCreate.model_json_schema()["properties"].items()
        if name in ("material", "container_type", "reference", "notes")
    }
    body = {
        "customer_id": a.customer_id,
        "order_type": "container_place",
        "vehicle_id": truck_id,
        **longest,
    }
    r = client.post("/api/v1/orders", headers=auth(a.token), json=body)
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/orders/{r.json()['id']}/dispatch", headers=auth(a.token), json={})
    assert r.status_code == 202, r.text


def test_unknown_routes_and_methods_render_the_error_shape(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json() == {"error": "NotFound", "detail": "Not Found"}
    r = client.delete("/api/v1/orders")
    assert r.status_code == 405 and r.json()["error"] == "MethodNotAllowed"
    assert set(r.json()) == {"error", "detail"}


def test_an_unexpected_exception_renders_the_error_shape(db_url, factory) -> None:  # type: ignore[no-untyped-def]
    app = create_app(Settings(environment="test", database_url=db_url), factory)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json()["error"] == "InternalError"
    assert "secret" not in r.text
