"""``GET /api/v1/me`` tells the front end who is logged in and what it may do, straight from
``cloud.permissions``; the device and document routes ask the same module."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cloud.permissions import Action, Role, can
from tests.platform.conftest import Company

pytestmark = pytest.mark.integration


def test_me_lists_locale_and_the_actions_of_each_role(
    api: TestClient, companies: tuple[Company, Company]
) -> None:
    acme, _ = companies
    for role in Role:
        me = api.get("/api/v1/me", headers=acme.tokens[role.value]).json()
        assert me["roles"] == [role.value] and me["locale"] == "nl"
        assert me["name"] == role.value.title()
        assert me["actions"] == sorted(a.value for a in Action if can(frozenset({role}), a))
        assert me["customer_id"] == (acme.customer_id if role is Role.CUSTOMER else None)
    owner = api.get("/api/v1/me", headers=acme.tokens["owner"]).json()
    assert "user.manage" in owner["actions"] and "order.request" not in owner["actions"]


DEVICES = {
    # role: (GET /devices, POST /devices)
    "owner": (200, 201),
    "administrator": (200, 201),
    "planner": (200, 403),
    "driver": (403, 403),
    "customer": (403, 403),
}


def test_device_and_document_routes_follow_the_permissions(
    api: TestClient, companies: tuple[Company, Company]
) -> None:
    acme, _ = companies
    for role, (read, manage) in DEVICES.items():
        headers = acme.tokens[role]
        r = api.get("/api/v1/devices", headers=headers)
        assert r.status_code == read, role
        if read == 403:
            assert r.json()["error"] == "NotAllowed" and "device.read" in r.json()["detail"]
        body = {"id": f"wb-{role}", "kind": "weighbridge"}
        r = api.post("/api/v1/devices", headers=headers, json=body)
        assert r.status_code == manage, (role, r.text)
    for role in ("driver", "customer"):
        r = api.post(
            "/api/v1/orders/1/documents",
            headers=acme.tokens[role],
            files={"file": ("a.pdf", b"%PDF-1.4\n", "application/pdf")},
        )
        assert (r.status_code, r.json()["error"]) == (403, "NotAllowed"), role
