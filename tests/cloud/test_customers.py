"""Customers: create, validate, change with audit, list with keyset paging, tenant isolation,
permissions, and the webshop intake's match."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit.models import FieldChange
from cloud.customers import service
from cloud.customers.errors import CustomerNotFound, CustomerNumberTaken, InvalidCustomer
from cloud.customers.models import EInvoiceFormat
from cloud.customers.schemas import CustomerCreate, CustomerUpdate
from cloud.db import transaction
from tests.cloud import masterdata_support
from tests.cloud.masterdata_support import Office, count

pytestmark = pytest.mark.integration

# fixtures
client = masterdata_support.client
offices = masterdata_support.offices

GOOD: dict[str, Any] = {
    "number": "10001",
    "name": "Bouwbedrijf De Vries B.V.",
    "street": "Werkeiland 4",
    "postal_code": "8043aa",
    "city": "Zwolle",
    "vat_id": "nl 0098.76543.B01",
    "kvk": "87654321",
    "email": "Info@DeVries.example",
    "invoice_email": "facturen@devries.example",
    "phone": "+31 38 123 45 67",
    "payment_terms_days": 14,
    "invoice_grouping": "per_site",
    "einvoice_format": "peppol_bis",
    "peppol_id": "0106:87654321",
    "notes": "Belt eerst",
}


def test_create_normalises_and_reads_back(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    r = client.post("/api/v1/customers", json=GOOD, headers=a.auth())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["postal_code"] == "8043 AA"
    assert body["vat_id"] == "NL009876543B01"
    assert body["email"] == "info@devries.example"
    assert body["country"] == "NL" and body["is_active"] and not body["needs_review"]
    got = client.get(f"/api/v1/customers/{body['id']}", headers=a.auth("planner"))
    assert got.status_code == 200 and got.json() == body


def test_number_is_given_when_left_out_and_a_taken_one_is_409(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, b = offices
    first = client.post("/api/v1/customers", json={"name": "Eerste"}, headers=a.auth())
    second = client.post("/api/v1/customers", json={"name": "Tweede"}, headers=a.auth())
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] != second.json()["number"]
    taken = client.post(
        "/api/v1/customers", json={"number": first.json()["number"], "name": "X"}, headers=a.auth()
    )
    assert taken.status_code == 409 and taken.json()["error"] == "CustomerNumberTaken"
    # numbers are per tenant
    other = client.post(
        "/api/v1/customers", json={"number": first.json()["number"], "name": "X"}, headers=b.auth()
    )
    assert other.status_code == 201


@pytest.mark.parametrize(
    "field,value,fragment",
    [
        ("vat_id", "NL12345678B01", "Dutch VAT id"),
        ("vat_id", "US123456789", "EU country prefix"),
        ("kvk", "1234567", "8 digits"),
        ("kvk", "1234567a", "8 digits"),
        ("postal_code", "123 AB", "Dutch postal code"),
        ("email", "not-an-address", "e-mail"),
        ("payment_terms_days", 366, "less than or equal to 365"),
        ("payment_terms_days", -1, "greater than or equal to 0"),
        ("invoice_grouping", "weekly", "per_order"),
        ("einvoice_format", "xml", "peppol_bis"),
        ("peppol_id", "106:123", "4-digit scheme"),
        ("country", "NLD", "at most 2"),
        ("name", "   ", "valid string"),
        ("name", "x" * 201, "at most 200"),
        ("tenant_id", 2, "Extra inputs"),
        ("id", 5, "Extra inputs"),
        ("is_cash", True, "Extra inputs"),
    ],
)
def test_invalid_fields_are_422_naming_the_field(
    client: TestClient, offices: tuple[Office, Office], field: str, value: Any, fragment: str
) -> None:
    a, _ = offices
    body = {**GOOD, field: value}
    r = client.post("/api/v1/customers", json=body, headers=a.auth())
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(fragment in d["msg"] for d in detail), detail
    assert any(field in d["loc"] or field in d["msg"] for d in detail), detail


def test_peppol_needs_an_id_and_other_vat_prefixes_pass(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, _ = offices
    body = {**GOOD, "peppol_id": None}
    r = client.post("/api/v1/customers", json=body, headers=a.auth())
    assert r.status_code == 422 and "peppol_id: required" in r.json()["detail"][0]["msg"]
    be = {"name": "Belg", "country": "BE", "postal_code": "2000", "vat_id": "BE0123456789"}
    r = client.post("/api/v1/customers", json=be, headers=a.auth())
    assert r.status_code == 201 and r.json()["postal_code"] == "2000"


def test_update_is_audited_with_who_and_why(
    client: TestClient, offices: tuple[Office, Office], factory: sessionmaker[Session]
) -> None:
    a, _ = offices
    cid = client.post("/api/v1/customers", json=GOOD, headers=a.auth()).json()["id"]
    r = client.patch(
        f"/api/v1/customers/{cid}",
        json={"payment_terms_days": 30, "postal_code": "8043 aa", "city": None, "reason": "belde"},
        headers=a.auth(),
    )
    assert r.status_code == 200, r.text
    assert r.json()["payment_terms_days"] == 30 and r.json()["city"] is None
    history = client.get(f"/api/v1/customers/{cid}/history", headers=a.auth("planner")).json()
    created = [h for h in history if h["old_value"] is None and h["reason"] is None]
    assert {h["field"] for h in created} >= {"number", "name", "kvk", "payment_terms_days"}
    changed = {h["field"]: h for h in history if h["reason"] == "belde"}
    assert set(changed) == {"payment_terms_days", "city"}  # the postal code did not change
    assert changed["payment_terms_days"]["old_value"] == "14"
    assert changed["payment_terms_days"]["new_value"] == "30"
    assert changed["city"]["by_user_id"] == a.user_id
    # nothing changes, nothing is recorded
    before = count(factory, FieldChange, entity="customer", entity_id=cid)
    client.patch(f"/api/v1/customers/{cid}", json={"name": GOOD["name"]}, headers=a.auth())
    assert count(factory, FieldChange, entity="customer", entity_id=cid) == before


@pytest.mark.parametrize(
    "patch,status,fragment",
    [
        ({"peppol_id": None}, 422, "peppol_id: required"),
        ({"name": None}, 422, "may not be null"),
        ({"number": "999"}, 422, "Extra inputs"),
        ({"country": "BE", "postal_code": "1000"}, 200, ""),
        ({"postal_code": "ABCD"}, 422, "Dutch postal code"),
    ],
)
def test_update_checks_the_merged_customer(
    client: TestClient,
    offices: tuple[Office, Office],
    patch: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    a, _ = offices
    cid = client.post("/api/v1/customers", json=GOOD, headers=a.auth()).json()["id"]
    r = client.patch(f"/api/v1/customers/{cid}", json=patch, headers=a.auth())
    assert r.status_code == status, r.text
    assert fragment in r.text


def test_list_pages_by_id_and_by_name_and_searches(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, b = offices
    names = ["Delta", "alpha", "Charlie", "Bravo", "Echo"]
    for i, name in enumerate(names):
        body = {"number": f"C{i}", "name": name, "city": "Zwolle" if i % 2 else "Kampen"}
        assert client.post("/api/v1/customers", json=body, headers=a.auth()).status_code == 201
    client.post("/api/v1/customers", json={"name": "Other tenant"}, headers=b.auth())
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after else {})}
        page = client.get("/api/v1/customers", params=params, headers=a.auth()).json()
        seen += [c["number"] for c in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == ["C0", "C1", "C2", "C3", "C4"]
    by_name: list[str] = []
    after = None
    while True:
        params = {"limit": 3, "sort": "name", **({"after": after} if after else {})}
        page = client.get("/api/v1/customers", params=params, headers=a.auth()).json()
        by_name += [c["name"] for c in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert sorted(by_name, key=str.lower) == sorted(names, key=str.lower)
    assert len(by_name) == 5
    found = client.get("/api/v1/customers", params={"q": "zwol"}, headers=a.auth()).json()
    assert {c["name"] for c in found["items"]} == {"alpha", "Bravo"}
    found = client.get("/api/v1/customers", params={"q": "c3"}, headers=a.auth()).json()
    assert [c["name"] for c in found["items"]] == ["Bravo"]
    client.patch(
        f"/api/v1/customers/{found['items'][0]['id']}", json={"is_active": False}, headers=a.auth()
    )
    active = client.get("/api/v1/customers", params={"active": "true"}, headers=a.auth()).json()
    assert "Bravo" not in {c["name"] for c in active["items"]} and len(active["items"]) == 4
    bad = client.get("/api/v1/customers", params={"after": "bm9wZQ"}, headers=a.auth())
    assert bad.status_code == 422 and bad.json()["error"] == "BadCursor"
    id_cursor = client.get("/api/v1/customers", params={"limit": 1}, headers=a.auth()).json()
    wrong_sort = client.get(
        "/api/v1/customers",
        params={"after": id_cursor["next_after"], "sort": "name"},
        headers=a.auth(),
    )
    assert wrong_sort.status_code == 422


def test_other_tenants_customer_is_404_everywhere(
    client: TestClient, offices: tuple[Office, Office]
) -> None:
    a, b = offices
    cid = client.post("/api/v1/customers", json=GOOD, headers=a.auth()).json()["id"]
    for method, path, body in [
        ("get", f"/api/v1/customers/{cid}", None),
        ("patch", f"/api/v1/customers/{cid}", {"name": "stolen"}),
        ("get", f"/api/v1/customers/{cid}/history", None),
        ("get", f"/api/v1/customers/{cid}/sites", None),
    ]:
        r = client.request(method, path, json=body, headers=b.auth())
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["error"] == "CustomerNotFound"
    assert client.get("/api/v1/customers", headers=b.auth()).json()["items"] == []


def test_roles(client: TestClient, offices: tuple[Office, Office]) -> None:
    a, _ = offices
    r = client.post("/api/v1/customers", json={"name": "P"}, headers=a.auth("planner"))
    assert r.status_code == 403
    assert client.get("/api/v1/customers", headers=a.auth("planner")).status_code == 200
    assert client.get("/api/v1/customers", headers=a.auth("driver")).status_code == 403
    r = client.post("/api/v1/customers", json={"name": "O"}, headers=a.auth("owner"))
    assert r.status_code == 201
    cid = r.json()["id"]
    r = client.patch(f"/api/v1/customers/{cid}", json={"name": "x"}, headers=a.auth("planner"))
    assert r.status_code == 403
    assert client.get("/api/v1/customers").status_code == 401


def test_service_functions(factory: sessionmaker[Session], offices: tuple[Office, Office]) -> None:
    a, b = offices
    with transaction(factory) as s:
        c = service.create_customer(
            s, tenant_id=a.tenant_id, number="1", name="Een", email="Een@X.example", kvk="12345678"
        )
        other = service.add_customer(
            s,
            tenant_id=a.tenant_id,
            data=CustomerCreate(name="Twee", invoice_email="factuur@twee.example"),
        )
        service.create_customer(s, tenant_id=b.tenant_id, number="1", name="B", kvk="99999999")
        with pytest.raises(InvalidCustomer, match="kvk: Value error, a KvK number has 8"):
            service.create_customer(s, tenant_id=a.tenant_id, number="9", name="x", kvk="1")
        with pytest.raises(CustomerNumberTaken):
            service.create_customer(s, tenant_id=a.tenant_id, number="1", name="dubbel")
        with pytest.raises(InvalidCustomer):
            service.update_customer(
                s,
                tenant_id=a.tenant_id,
                customer_id=c.id,
                data=CustomerUpdate(einvoice_format=EInvoiceFormat.PEPPOL_BIS),
            )
        with pytest.raises(CustomerNotFound):
            service.get_customer(s, tenant_id=b.tenant_id, customer_id=c.id)
        cash = service.cash_customer(s, tenant_id=a.tenant_id)
        assert cash.is_cash and service.cash_customer(s, tenant_id=a.tenant_id).id == cash.id
        with pytest.raises(InvalidCustomer):
            service.deactivate_customer(s, tenant_id=a.tenant_id, customer_id=cash.id)
        c_id, other_id = c.id, other.id
    with transaction(factory) as s:

        def found(email: str | None, kvk: str | None) -> int | None:
            c = service.find_customer_for_intake(s, tenant_id=a.tenant_id, email=email, kvk=kvk)
            return None if c is None else c.id

        assert found(" EEN@x.example ", None) == c_id
        assert found("FACTUUR@twee.example", None) == other_id
        assert found(None, "1234 5678") == c_id
        assert found("factuur@twee.example", "12345678") == other_id  # e-mail wins
        assert found("nobody@x.example", "99999999") is None  # another tenant's KvK
        assert found(None, None) is None
        service.deactivate_customer(s, tenant_id=a.tenant_id, customer_id=c_id, reason="weg")
        assert found("een@x.example", None) is None


def test_schema_is_the_one_definition() -> None:
    with pytest.raises(ValidationError):
        CustomerCreate(name="x", kvk="123")
    assert CustomerCreate(name="x", postal_code="1234ab").postal_code == "1234 AB"
    assert CustomerCreate(name="x", country="de", postal_code="10115").postal_code == "10115"
