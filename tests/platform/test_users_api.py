"""``/api/v1/users``: the owner manages its tenant's users; an administrator reads them;
nobody reaches another tenant's users; the tenant keeps an active owner; every change is in
the audit trail (entity ``user``), passwords never."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.audit.models import FieldChange
from tests.platform.conftest import Company

pytestmark = pytest.mark.integration

USERS = "/api/v1/users"


def _login(api: TestClient, email: str, password: str) -> dict[str, str]:
    r = api.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _audit(
    factory: sessionmaker[Session], user_id: int
) -> list[tuple[str, str | None, str | None, int | None]]:
    with factory() as s:
        rows = s.scalars(
            select(FieldChange)
            .where(FieldChange.entity == "user", FieldChange.entity_id == user_id)
            .order_by(FieldChange.id)
        )
        return [(r.field, r.old_value, r.new_value, r.by_user_id) for r in rows]


def test_owner_creates_a_user_who_logs_in_with_the_generated_password(
    api: TestClient, companies: tuple[Company, Company], factory: sessionmaker[Session]
) -> None:
    acme, _ = companies
    owner = acme.tokens["owner"]
    r = api.post(
        USERS,
        headers=owner,
        json={"email": " New.Planner@Acme.example ", "name": "Nieuw", "roles": ["planner"]},
    )
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["email"] == "new.planner@acme.example" and body["roles"] == ["planner"]
    assert body["is_active"] and body["locale"] == "nl" and body["customer_id"] is None
    assert len(body["password"]) >= 20
    me = api.get("/api/v1/me", headers=_login(api, body["email"], body["password"])).json()
    assert me["user_id"] == body["id"] and me["tenant_id"] == acme.tenant_id

    # A chosen password is accepted and not echoed.
    r = api.post(
        USERS,
        headers=owner,
        json={"email": "chosen@acme.example", "roles": ["driver"], "password": "chosen-secret-12"},
    )
    assert r.status_code == 201 and r.json()["password"] is None
    assert r.json()["name"] == "chosen@acme.example"
    _login(api, "chosen@acme.example", "chosen-secret-12")

    audit = _audit(factory, body["id"])
    assert ("email", None, "new.planner@acme.example", acme.users["owner"]) in audit
    assert ("roles", None, '["planner"]', acme.users["owner"]) in audit
    assert all(field != "password_hash" for field, *_ in audit)

    listed = api.get(USERS, headers=owner).json()
    assert "new.planner@acme.example" in [u["email"] for u in listed]
    assert all(u["email"].endswith("@acme.example") for u in listed)
    assert "password" not in listed[0]


def test_refusals_name_the_problem(api: TestClient, companies: tuple[Company, Company]) -> None:
    acme, other = companies
    owner = acme.tokens["owner"]
    cases = [
        ({"email": "x@acme.example", "roles": ["boss"]}, 422, "ValidationError"),
        ({"email": "x@acme.example", "roles": []}, 422, "ValidationError"),
        ({"email": "planner@acme.example", "roles": ["planner"]}, 409, "EmailTaken"),
        ({"email": "planner@other.example", "roles": ["planner"]}, 409, "EmailTaken"),
        ({"email": "k@acme.example", "roles": ["customer"]}, 422, "CustomerLinkInvalid"),
        (
            {"email": "k@acme.example", "roles": ["customer", "planner"], "customer_id": 1},
            422,
            "CustomerLinkInvalid",
        ),
        (
            {"email": "k@acme.example", "roles": ["planner"], "customer_id": acme.customer_id},
            422,
            "CustomerLinkInvalid",
        ),
        (
            {"email": "k@acme.example", "roles": ["customer"], "customer_id": other.customer_id},
            422,
            "UnknownReference",
        ),
        ({"email": "k@acme.example", "roles": ["owner"], "tenant_id": 2}, 422, "ValidationError"),
        (
            {"email": "k@acme.example", "roles": ["owner"], "password": "short"},
            422,
            "ValidationError",
        ),
    ]
    for payload, code, error in cases:
        r = api.post(USERS, headers=owner, json=payload)
        assert (r.status_code, r.json()["error"]) == (code, error), (payload, r.text)
    r = api.post(
        USERS,
        headers=owner,
        json={"email": "k@acme.example", "roles": ["customer"], "customer_id": acme.customer_id},
    )
    assert r.status_code == 201 and r.json()["customer_id"] == acme.customer_id


def test_roles_other_than_owner_may_not_manage_users(
    api: TestClient, companies: tuple[Company, Company]
) -> None:
    acme, _ = companies
    target = acme.users["driver"]
    writes = [
        ("post", USERS, {"email": "z@acme.example", "roles": ["planner"]}),
        ("patch", f"{USERS}/{target}", {"name": "Z"}),
        ("post", f"{USERS}/{target}/disable", None),
        ("post", f"{USERS}/{target}/reset-password", None),
    ]
    for role in ("planner", "administrator", "driver", "customer"):
        for method, url, payload in writes:
            r = api.request(method, url, headers=acme.tokens[role], json=payload)
            assert (r.status_code, r.json()["error"]) == (403, "NotAllowed"), (role, url)
    # Reading: owner and administrator.
    for role, code in (("administrator", 200), ("planner", 403), ("customer", 403)):
        assert api.get(USERS, headers=acme.tokens[role]).status_code == code, role
        assert api.get(f"{USERS}/{target}", headers=acme.tokens[role]).status_code == code
    assert api.get(USERS).status_code == 401


def test_another_tenants_user_is_not_found(
    api: TestClient, companies: tuple[Company, Company]
) -> None:
    acme, other = companies
    owner = acme.tokens["owner"]
    foreign = other.users["planner"]
    for method, url, payload in [
        ("get", f"{USERS}/{foreign}", None),
        ("patch", f"{USERS}/{foreign}", {"name": "Mine now"}),
        ("post", f"{USERS}/{foreign}/disable", None),
        ("post", f"{USERS}/{foreign}/reset-password", None),
        ("get", f"{USERS}/999999", None),
    ]:
        r = api.request(method, url, headers=owner, json=payload)
        assert (r.status_code, r.json()["error"]) == (404, "UserNotFound"), url
    # and nothing changed over there
    r = api.get(f"{USERS}/{foreign}", headers=other.tokens["owner"]).json()
    assert r["name"] == "Planner" and r["is_active"]


def test_patch_changes_fields_with_audit_and_ends_logins_on_disable(
    api: TestClient, companies: tuple[Company, Company], factory: sessionmaker[Session]
) -> None:
    acme, _ = companies
    owner = acme.tokens["owner"]
    planner = acme.users["planner"]
    r = api.patch(
        f"{USERS}/{planner}",
        headers=owner,
        json={"name": "Piet", "roles": ["planner", "administrator"], "locale": "en"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["administrator", "planner"] and r.json()["locale"] == "en"
    me = api.get("/api/v1/me", headers=acme.tokens["planner"]).json()
    assert me["locale"] == "en" and "device.manage" in me["actions"]
    for bad in ({"name": None}, {"roles": None}, {"email": "x@y.z"}, {"tenant_id": 2}):
        assert api.patch(f"{USERS}/{planner}", headers=owner, json=bad).status_code == 422, bad

    # The customer user moves to another customer of the same tenant; not to a foreign one.
    with factory() as s, s.begin():
        from cloud.customers.service import create_customer

        second = create_customer(s, tenant_id=acme.tenant_id, number="1002", name="Tweede").id
    customer_user = acme.users["customer"]
    r = api.patch(f"{USERS}/{customer_user}", headers=owner, json={"customer_id": second})
    assert r.status_code == 200 and r.json()["customer_id"] == second
    r = api.patch(f"{USERS}/{customer_user}", headers=owner, json={"customer_id": None})
    assert r.json()["error"] == "CustomerLinkInvalid"

    r = api.post(f"{USERS}/{planner}/disable", headers=owner)
    assert r.status_code == 200 and r.json()["is_active"] is False
    assert api.get("/api/v1/me", headers=acme.tokens["planner"]).status_code == 401
    r = api.post(
        "/api/v1/auth/token",
        json={"email": "planner@acme.example", "password": "a-long-password-1"},
    )
    assert r.status_code == 401

    audit = _audit(factory, planner)
    by = acme.users["owner"]
    assert ("name", "Planner", "Piet", by) in audit
    assert ("roles", '["planner"]', '["administrator", "planner"]', by) in audit
    assert ("locale", "nl", "en", by) in audit
    assert ("is_active", "true", "false", by) in audit
    assert ("customer_id", str(acme.customer_id), str(second), by) in _audit(factory, customer_user)


def test_reset_password_issues_a_new_one_and_ends_logins(
    api: TestClient, companies: tuple[Company, Company], factory: sessionmaker[Session]
) -> None:
    acme, _ = companies
    driver = acme.users["driver"]
    r = api.post(f"{USERS}/{driver}/reset-password", headers=acme.tokens["owner"])
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    password = r.json()["password"]
    assert api.get("/api/v1/me", headers=acme.tokens["driver"]).status_code == 401
    old = {"email": "driver@acme.example", "password": "a-long-password-1"}
    assert api.post("/api/v1/auth/token", json=old).status_code == 401
    _login(api, "driver@acme.example", password)
    field, old_value, new_value, by = _audit(factory, driver)[-1]
    assert (field, old_value, new_value, by) == ("password", None, None, acme.users["owner"])


def test_the_last_active_owner_stays(api: TestClient, companies: tuple[Company, Company]) -> None:
    acme, _ = companies
    headers = acme.tokens["owner"]
    owner = acme.users["owner"]
    for url, payload in [
        (f"{USERS}/{owner}/disable", None),
        (f"{USERS}/{owner}", {"is_active": False}),
        (f"{USERS}/{owner}", {"roles": ["planner"]}),
    ]:
        method = "post" if url.endswith("disable") else "patch"
        r = api.request(method, url, headers=headers, json=payload)
        assert (r.status_code, r.json()["error"]) == (409, "LastOwner"), url
        assert "last active owner" in r.json()["detail"]
    # With a second owner, the first may step down.
    second = api.patch(
        f"{USERS}/{acme.users['administrator']}",
        headers=headers,
        json={"roles": ["owner", "administrator"]},
    )
    assert second.status_code == 200
    r = api.patch(f"{USERS}/{owner}", headers=headers, json={"roles": ["planner"]})
    assert r.status_code == 200 and r.json()["roles"] == ["planner"]
    # ... and is now a planner: no more user management.
    assert api.post(f"{USERS}/{owner}/disable", headers=headers).status_code == 403
    admin_owner = acme.tokens["administrator"]
    r = api.post(f"{USERS}/{acme.users['administrator']}/disable", headers=admin_owner)
    assert r.status_code == 409 and r.json()["error"] == "LastOwner"
