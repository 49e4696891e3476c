# ruff: noqa: F811  (pytest fixtures imported from masterdata_support, used as arguments)
"""Vehicles and drivers: validation, audit, tenant isolation, keyset paging, and the
keyword form of ``create_vehicle`` that seeds and older tests use."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit.models import FieldChange
from cloud.customers.service import create_customer
from cloud.db import transaction
from cloud.devices.service import create_device
from cloud.fleet.errors import VehicleExists
from cloud.fleet.models import Vehicle
from cloud.fleet.schemas import TEXT_LISTS, DriverCreate, VehicleCreate
from cloud.fleet.service import create_driver, create_vehicle, find_vehicle
from cloud.tenancy.models import User
from tests.cloud.masterdata_support import Office, client, count, offices  # noqa: F401

pytestmark = pytest.mark.integration


def user_id(factory: sessionmaker[Session], email: str) -> int:
    with factory() as s:
        found = s.scalar(select(User.id).where(User.email == email))
        assert found is not None
        return found


def test_vehicle_create_normalises_audits_and_shows_devices(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    acme, _ = offices
    driver = user_id(factory, "driver@acme.example")
    r = client.post(
        "/api/v1/vehicles",
        headers=acme.auth(),
        json={
            "plate": " bx-123  z ",
            "vehicle_type": "haakarm",
            "allowed_container_types": ["afzetcontainer", "rolcontainer", "afzetcontainer"],
            "max_load_kg": "18000.5",
            "stored_tare_kg": 14220,
            "stored_tare_valid_until": "2027-06-30",
            "licence_category": "CE",
            "rfid_card": "000414cd7e",
            "driver_user_id": driver,
        },
    )
    assert r.status_code == 201, r.text
    v = r.json()
    assert v["plate"] == "BX-123 Z" and v["plate_key"] == "BX123Z" and v["kind"] == "truck"
    assert v["allowed_container_types"] == ["afzetcontainer", "rolcontainer"]
    assert Decimal(v["max_load_kg"]) == Decimal("18000.5") and v["rfid_card"] == "000414CD7E"
    assert v["device_ids"] == []
    with transaction(factory) as s:
        create_device(
            s, tenant_id=acme.tenant_id, device_id="truck-9", kind="truck", vehicle_id=v["id"]
        )
    got = client.get(f"/api/v1/vehicles/{v['id']}", headers=acme.auth("planner")).json()
    assert got["device_ids"] == ["truck-9"]

    # the same plate written differently is the same vehicle
    r = client.post("/api/v1/vehicles", headers=acme.auth(), json={"plate": "bx123z"})
    assert r.status_code == 409 and r.json()["error"] == "VehicleExists"
    r = client.post(
        "/api/v1/vehicles", headers=acme.auth(), json={"plate": "ZZ-1", "rfid_card": "000414CD7E"}
    )
    assert r.status_code == 409 and "rfid_card" in r.json()["detail"]

    r = client.patch(
        f"/api/v1/vehicles/{v['id']}",
        headers=acme.auth(),
        json={"max_load_kg": "19000", "vehicle_type": None, "is_active": False},
    )
    assert r.status_code == 200, r.text
    assert r.json()["vehicle_type"] is None and r.json()["is_active"] is False
    history = client.get(f"/api/v1/vehicles/{v['id']}/history", headers=acme.auth()).json()
    created = {h["field"]: h["new_value"] for h in history if h["old_value"] is None}
    assert created["plate"] == "BX-123 Z" and created["max_load_kg"] == "18000.5"
    changed = [(h["field"], h["old_value"], h["new_value"]) for h in history[len(created) :]]
    assert ("max_load_kg", "18000.5", "19000") in changed
    assert ("vehicle_type", "haakarm", None) in changed and (
        "is_active",
        "true",
        "false",
    ) in changed
    assert all(h["by_user_id"] == acme.user_id for h in history)

    inactive = client.get("/api/v1/vehicles?active=false", headers=acme.auth()).json()
    assert [x["id"] for x in inactive["items"]] == [v["id"]]
    assert (
        client.get("/api/v1/vehicles?q=123z", headers=acme.auth()).json()["items"][0]["id"]
        == v["id"]
    )
    assert client.get("/api/v1/vehicles?q=xx-9", headers=acme.auth()).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"plate": "--"}, "plate"),
        ({"plate": "AB-1", "kind": "kipper"}, "kind"),
        ({"plate": "AB-1", "max_load_kg": 0}, "max_load_kg"),
        ({"plate": "AB-1", "max_load_kg": "1.2345"}, "max_load_kg"),
        ({"plate": "AB-1", "licence_category": "B"}, "licence_category"),
        ({"plate": "AB-1", "stored_tare_valid_until": "2101-01-01"}, "stored_tare_valid_until"),
        ({"plate": "AB-1", "plate_key": "X"}, "plate_key"),
        ({"plate": "AB-1", "tenant_id": 2}, "tenant_id"),
        ({"plate": "AB-1", "allowed_container_types": ["x" * 61]}, "allowed_container_types"),
    ],
)
def test_vehicle_payload_is_refused_precisely(
    client: TestClient, offices: tuple[Office, Office], body: dict[str, object], loc: str
) -> None:
    acme, _ = offices
    r = client.post("/api/v1/vehicles", headers=acme.auth(), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "ValidationError"
    assert loc in r.json()["detail"][0]["loc"]


def test_vehicle_rules_and_references(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    acme, globex = offices
    with transaction(factory) as s:
        mine = create_customer(s, tenant_id=acme.tenant_id, number="1001", name="Jansen").id
        theirs = create_customer(s, tenant_id=globex.tenant_id, number="1001", name="Other").id
    planner = user_id(factory, "planner@acme.example")
    their_driver = user_id(factory, "driver@globex.example")

    def post(body: dict[str, object]) -> tuple[int, str]:
        r = client.post("/api/v1/vehicles", headers=acme.auth(), json=body)
        return r.status_code, r.json().get("detail", "") if r.status_code != 201 else ""

    assert post({"plate": "AB-1", "kind": "customer_vehicle"}) == (
        422,
        "customer_id: a customer vehicle needs its customer",
    )
    status, detail = post({"plate": "AB-1", "customer_id": mine})
    assert status == 422 and detail.startswith("customer_id: only a customer_vehicle")
    status, detail = post({"plate": "AB-1", "kind": "customer_vehicle", "customer_id": theirs})
    assert status == 422 and detail.startswith("customer_id: no such record")
    status, detail = post({"plate": "AB-1", "driver_user_id": planner})
    assert status == 422 and "driver_user_id: user" in detail and "driver role" in detail
    status, detail = post({"plate": "AB-1", "driver_user_id": their_driver})
    assert status == 422 and detail.startswith("driver_user_id: no such record")
    status, detail = post({"plate": "AB-1", "stored_tare_valid_until": "2027-01-01"})
    assert status == 422 and detail.startswith("stored_tare_valid_until")
    assert post({"plate": "AB-1", "kind": "customer_vehicle", "customer_id": mine}) == (201, "")

    # the other tenant sees nothing of it, and cannot change it
    vid = client.get("/api/v1/vehicles", headers=acme.auth()).json()["items"][0]["id"]
    assert client.get(f"/api/v1/vehicles/{vid}", headers=globex.auth()).status_code == 404
    r = client.patch(f"/api/v1/vehicles/{vid}", headers=globex.auth(), json={"plate": "X-1"})
    assert r.status_code == 404 and r.json()["error"] == "VehicleNotFound"
    assert client.get(f"/api/v1/vehicles/{vid}/history", headers=globex.auth()).status_code == 404
    assert client.get("/api/v1/vehicles", headers=globex.auth()).json()["items"] == []
    # a patch is checked against the whole vehicle
    r = client.patch(f"/api/v1/vehicles/{vid}", headers=acme.auth(), json={"kind": "truck"})
    assert r.status_code == 422 and r.json()["detail"].startswith("customer_id")
    r = client.patch(f"/api/v1/vehicles/{vid}", headers=acme.auth(), json={"plate": None})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "plate"]
    # roles: a planner reads, only masterdata.write changes; a driver does neither
    assert client.get("/api/v1/vehicles", headers=acme.auth("planner")).status_code == 200
    r = client.post("/api/v1/vehicles", headers=acme.auth("planner"), json={"plate": "P-1"})
    assert r.status_code == 403
    assert client.get("/api/v1/vehicles", headers=acme.auth("driver")).status_code == 403
    assert (
        client.post(
            "/api/v1/vehicles", headers=acme.auth("owner"), json={"plate": "O-1"}
        ).status_code
        == 201
    )


def test_keyset_paging(client: TestClient, offices: tuple[Office, Office]) -> None:
    acme, _ = offices
    for i in range(5):
        assert (
            client.post(
                "/api/v1/vehicles", headers=acme.auth(), json={"plate": f"PG-{i}"}
            ).status_code
            == 201
        )
    seen: list[str] = []
    after = None
    while True:
        url = "/api/v1/vehicles?limit=2" + (f"&after={after}" if after else "")
        page = client.get(url, headers=acme.auth()).json()
        seen += [v["plate"] for v in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == [f"PG-{i}" for i in range(5)]


def test_keyword_create_vehicle_keeps_its_callers(factory: sessionmaker[Session]) -> None:
    """Seeds and older tests call ``create_vehicle(plate=..., kind="kipper", customer_id=...)``:
    a kind that says what the vehicle is becomes its type."""
    with transaction(factory) as s:
        from cloud.tenancy.service import create_tenant

        tenant = create_tenant(s, slug="kw", name="kw")
        customer = create_customer(s, tenant_id=tenant.id, number="1", name="C")
        kipper = create_vehicle(
            s, tenant_id=tenant.id, plate="bx-123-z", kind="kipper", customer_id=customer.id
        )
        assert (kipper.plate, kipper.kind, kipper.vehicle_type) == (
            "BX-123-Z",
            "customer_vehicle",
            "kipper",
        )
        own = create_vehicle(s, tenant_id=tenant.id, plate="TR-001-K")
        assert own.kind == "truck"
        with pytest.raises(VehicleExists):
            create_vehicle(s, tenant_id=tenant.id, plate="TR 001 K")
        with pytest.raises(ValidationError):
            create_vehicle(s, tenant_id=tenant.id, plate="--")
        assert find_vehicle(s, tenant_id=tenant.id, rfid_card=None, plate="tr001k") is own
        data = VehicleCreate.model_validate(
            {"plate": "ab-12", "allowed_container_types": "afzet, rol", "max_load_kg": "1000"},
            context={TEXT_LISTS: True},  # as the CSV import reads a cell
        )
        with pytest.raises(ValidationError):  # the JSON API takes lists only
            VehicleCreate.model_validate({"plate": "ab-13", "allowed_container_types": "afzet"})
        from_csv = create_vehicle(s, tenant_id=tenant.id, data=data, by_user_id=None)
        assert from_csv.allowed_container_types == ["afzet", "rol"]
        rows = s.scalars(
            select(FieldChange.field).where(
                FieldChange.entity == "vehicle", FieldChange.entity_id == from_csv.id
            )
        ).all()
        assert {"plate", "plate_key", "kind", "max_load_kg", "allowed_container_types"} <= set(rows)
    assert count(factory, Vehicle, tenant_id=tenant.id) == 3


def test_drivers(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    acme, globex = offices
    driver = user_id(factory, "driver@acme.example")
    planner = user_id(factory, "planner@acme.example")
    their_driver = user_id(factory, "driver@globex.example")
    body = {
        "user_id": driver,
        "name": "Piet de Vries",
        "phone": "+31 6 12345678",
        "licence_categories": ["ce", "C", "C"],
        "licence_valid_until": "2030-01-31",
        "adr": True,
        "adr_valid_until": "2028-05-01",
    }
    r = client.post("/api/v1/drivers", headers=acme.auth(), json=body)
    assert r.status_code == 201, r.text
    d = r.json()
    assert d["licence_categories"] == ["CE", "C"] and d["adr"] is True
    # one driver per user
    r = client.post("/api/v1/drivers", headers=acme.auth(), json=body)
    assert r.status_code == 409 and r.json()["error"] == "DriverExists"
    r = client.post("/api/v1/drivers", headers=acme.auth(), json=body | {"user_id": planner})
    assert r.status_code == 422 and r.json()["error"] == "NotADriver"
    assert r.json()["detail"].startswith("user_id:")
    r = client.post("/api/v1/drivers", headers=acme.auth(), json=body | {"user_id": their_driver})
    assert r.status_code == 422 and r.json()["error"] == "UnknownReference"
    r = client.post(
        "/api/v1/drivers", headers=acme.auth(), json=body | {"licence_categories": ["X"]}
    )
    assert r.status_code == 422 and "licence_categories" in r.json()["detail"][0]["loc"]
    r = client.patch(f"/api/v1/drivers/{d['id']}", headers=acme.auth(), json={"adr": False})
    assert r.status_code == 422 and r.json()["detail"].startswith("adr_valid_until")
    r = client.patch(
        f"/api/v1/drivers/{d['id']}",
        headers=acme.auth(),
        json={"adr": False, "adr_valid_until": None, "phone": "0612345678"},
    )
    assert r.status_code == 200 and r.json()["phone"] == "0612345678"
    history = client.get(f"/api/v1/drivers/{d['id']}/history", headers=acme.auth()).json()
    assert ("adr", "true", "false") in [
        (h["field"], h["old_value"], h["new_value"]) for h in history
    ]
    assert client.get(f"/api/v1/drivers/{d['id']}", headers=globex.auth()).status_code == 404
    assert (
        client.get("/api/v1/drivers?q=piet", headers=acme.auth()).json()["items"][0]["id"]
        == d["id"]
    )
    # the CSV import path: plain strings
    with transaction(factory) as s:
        from cloud.tenancy.service import create_user

        other = create_user(
            s,
            tenant_id=acme.tenant_id,
            email="d2@acme.example",
            name="D2",
            password=None,
            roles=["driver"],
        )
        data = DriverCreate.model_validate(
            {
                "user_id": str(other.id),
                "name": "Klaas",
                "licence_categories": "C CE",
                "adr": "false",
            },
            context={TEXT_LISTS: True},
        )
        created = create_driver(s, tenant_id=acme.tenant_id, data=data, by_user_id=None)
        assert created.licence_categories == ["C", "CE"] and created.adr is False
