"""Sites: kinds and their rules, references within the tenant, coordinates as decimals,
audited changes, tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cloud import masterdata_support
from tests.cloud.masterdata_support import Office

pytestmark = pytest.mark.integration

# fixtures
client = masterdata_support.client
offices = masterdata_support.offices


def _customer(client: TestClient, office: Office, number: str = "1001") -> int:
    r = client.post(
        "/api/v1/customers", json={"number": number, "name": "K"}, headers=office.auth()
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_create_customer_site_with_exact_coordinates(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    cid = _customer(client, a)
    body = {
        "name": "Bouwplaats Stadshagen",
        "customer_id": cid,
        "street": "Werkeiland 4",
        "postal_code": "8043aa",
        "city": "Zwolle",
        "lat": "52.5302417",
        "lon": "6.0563112",
        "access_notes": "Poortcode 1234",
    }
    r = client.post("/api/v1/sites", json=body, headers=a.auth())
    assert r.status_code == 201, r.text
    site = r.json()
    assert site["kind"] == "customer_site" and site["postal_code"] == "8043 AA"
    assert site["lat"] == "52.5302417" and site["lon"] == "6.0563112"
    assert client.get(f"/api/v1/sites/{site['id']}", headers=a.auth("planner")).json() == site
    listed = client.get(f"/api/v1/customers/{cid}/sites", headers=a.auth()).json()
    assert [s["id"] for s in listed["items"]] == [site["id"]]


@pytest.mark.parametrize(
    "body,fragment",
    [
        ({"name": "x", "kind": "customer_site"}, "customer_id: a customer site needs"),
        ({"name": "x", "kind": "own_yard", "customer_id": "CID"}, "belongs to no customer"),
        ({"name": "x", "kind": "own_yard", "processor_number": "12345"}, "only a processor"),
        ({"name": "x", "kind": "processor", "processor_number": "1234"}, "5 digits"),
        ({"name": "x", "kind": "lake"}, "customer_site"),
        ({"name": "x", "kind": "own_yard", "lat": 91, "lon": 5}, "less than or equal to 90"),
        ({"name": "x", "kind": "own_yard", "lat": 52, "lon": -181}, "greater than or equal"),
        ({"name": "x", "kind": "own_yard", "lat": 52}, "both coordinates"),
        ({"name": "x", "kind": "own_yard", "lat": "52.123456789", "lon": 5}, "no more than"),
        ({"name": "x", "kind": "own_yard", "tenant_id": 1}, "Extra inputs"),
    ],
)
def test_site_rules_are_422(
    client: TestClient, offices: tuple[Office, Office], body: dict[str, Any], fragment: str
) -> None:
    a, _ = offices
    cid = _customer(client, a)
    body = {k: cid if v == "CID" else v for k, v in body.items()}
    r = client.post("/api/v1/sites", json=body, headers=a.auth())
    assert r.status_code == 422, r.text
    assert fragment in r.text


def test_other_tenants_customer_in_a_body_or_query_is_422(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, b = offices
    theirs = _customer(client, b)
    r = client.post("/api/v1/sites", json={"name": "x", "customer_id": theirs}, headers=a.auth())
    assert r.status_code == 422 and "customer_id" in r.json()["detail"]
    r = client.get("/api/v1/sites", params={"customer_id": theirs}, headers=a.auth())
    assert r.status_code == 422 and "customer_id" in r.json()["detail"]
    mine = _customer(client, a)
    site = client.post(
        "/api/v1/sites", json={"name": "x", "customer_id": mine}, headers=a.auth()
    ).json()
    r = client.patch(f"/api/v1/sites/{site['id']}", json={"customer_id": theirs}, headers=a.auth())
    assert r.status_code == 422 and "customer_id" in r.json()["detail"]
    for method, path, body in [
        ("get", f"/api/v1/sites/{site['id']}", None),
        ("patch", f"/api/v1/sites/{site['id']}", {"name": "stolen"}),
        ("get", f"/api/v1/sites/{site['id']}/history", None),
    ]:
        r = client.request(method, path, json=body, headers=b.auth())
        assert r.status_code == 404 and r.json()["error"] == "SiteNotFound", r.text


def test_processor_numbers_are_unique_and_updates_audited(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, b = offices
    proc = {"name": "Verwerker", "kind": "processor", "processor_number": "80123"}
    r = client.post("/api/v1/sites", json=proc, headers=a.auth())
    assert r.status_code == 201
    sid = r.json()["id"]
    again = client.post("/api/v1/sites", json=proc, headers=a.auth())
    assert again.status_code == 409 and again.json()["error"] == "ProcessorNumberTaken"
    assert client.post("/api/v1/sites", json=proc, headers=b.auth()).status_code == 201
    # a processor that becomes a yard must lose its number first
    r = client.patch(f"/api/v1/sites/{sid}", json={"kind": "own_yard"}, headers=a.auth())
    assert r.status_code == 422 and r.json()["error"] == "InvalidSite"
    r = client.patch(
        f"/api/v1/sites/{sid}",
        json={"kind": "own_yard", "processor_number": None, "reason": "eigen terrein"},
        headers=a.auth(),
    )
    assert r.status_code == 200 and r.json()["processor_number"] is None
    history = client.get(f"/api/v1/sites/{sid}/history", headers=a.auth()).json()
    changed = {h["field"]: h for h in history if h["reason"] == "eigen terrein"}
    assert changed["kind"]["old_value"] == "processor"
    assert changed["kind"]["new_value"] == "own_yard"
    assert changed["processor_number"]["old_value"] == "80123"
    assert changed["kind"]["by_user_id"] == a.user_id


def test_list_filters(client: TestClient, offices: tuple[Office, Office]) -> None:
    a, b = offices
    cid = _customer(client, a)
    for body in [
        {"name": "Werf Noord", "kind": "own_yard", "city": "Zwolle"},
        {"name": "Weegbrug", "kind": "weighbridge", "city": "Kampen"},
        {"name": "Bouw A", "customer_id": cid, "city": "Zwolle"},
        {"name": "Bouw B", "customer_id": cid, "city": "Deventer", "is_active": False},
    ]:
        assert client.post("/api/v1/sites", json=body, headers=a.auth()).status_code == 201
    client.post("/api/v1/sites", json={"name": "B's", "kind": "own_yard"}, headers=b.auth())

    def names(**params: Any) -> list[str]:
        r = client.get("/api/v1/sites", params=params, headers=a.auth())
        assert r.status_code == 200, r.text
        return [s["name"] for s in r.json()["items"]]

    assert names() == ["Werf Noord", "Weegbrug", "Bouw A", "Bouw B"]
    assert names(kind="own_yard") == ["Werf Noord"]
    assert names(customer_id=cid) == ["Bouw A", "Bouw B"]
    assert names(customer_id=cid, active="true") == ["Bouw A"]
    assert names(q="zwol") == ["Werf Noord", "Bouw A"]
    assert names(sort="name", limit=2) == ["Bouw A", "Bouw B"]
    assert client.get("/api/v1/sites", headers=a.auth("driver")).status_code == 403
    r = client.post(
        "/api/v1/sites", json={"name": "x", "kind": "own_yard"}, headers=a.auth("planner")
    )
    assert r.status_code == 403
