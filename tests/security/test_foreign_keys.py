"""Every reference in every request, with another tenant's id (issue 8, finding 1).

The OpenAPI document is walked for JSON body fields, query parameters and path parameters that
name a row (``*_id``). Each is sent with the row of the other tenant, by a user of the first
tenant who may call the route: body and query references must be refused with 422 naming the
field, path references with 404, and nothing may be created. A new route with a reference and
no baseline body below fails ``test_every_reference_is_covered``, so the walk stays complete."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud.devices.models import Device
from cloud.orders.models import Order
from tests.security.conftest import SecurityApi, TenantWorld, png_bytes

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

Baseline = Callable[[TenantWorld], dict[str, Any]]

# A valid body per operation that takes one, made of the calling tenant's own rows; each
# reference field is then replaced by the other tenant's row.
BASELINES: dict[tuple[str, str], Baseline] = {
    ("post", "/api/v1/orders"): lambda t: {
        "customer_id": t.customer_id,
        "order_type": "container_place",
        "site_id": t.customer_site_id,
        "vehicle_id": t.vehicle_id,
    },
    ("post", "/api/v1/devices"): lambda t: {"id": "fk-probe", "kind": "truck"},
    ("post", "/api/v1/devices/{device_id}/revoke"): lambda t: {"reason": "probe"},
    ("post", "/api/v1/orders/{order_id}/dispatch"): lambda t: {"sequence": 0},
    ("post", "/api/v1/auth/token"): lambda t: {"email": "x@example.com", "password": "x"},
    # issue 9
    ("patch", "/api/v1/orders/{order_id}"): lambda t: {
        "customer_id": t.customer_id,
        "site_id": t.customer_site_id,
        "vehicle_id": t.vehicle_id,
        "container_id": t.container_id,
        "material_id": t.material_id,
        "waste_stream_id": t.waste_stream_id,
    },
    ("post", "/api/v1/orders/{order_id}/cancel"): lambda t: {"reason": "probe"},
    ("post", "/api/v1/me/password"): lambda t: {
        "current_password": "x",
        "new_password": "probe-password-1",
    },
    ("post", "/api/v1/customers"): lambda t: {"name": "FK probe"},
    ("patch", "/api/v1/customers/{customer_id}"): lambda t: {"name": "FK probe"},
    ("post", "/api/v1/sites"): lambda t: {
        "name": "FK probe",
        "kind": "customer_site",
        "customer_id": t.customer_id,
    },
    ("patch", "/api/v1/sites/{site_id}"): lambda t: {"customer_id": t.customer_id},
    ("post", "/api/v1/vehicles"): lambda t: {
        "plate": "FK-1-X",
        "kind": "customer_vehicle",
        "customer_id": t.customer_id,
        "driver_user_id": t.user_ids["driver"],
    },
    ("patch", "/api/v1/vehicles/{vehicle_id}"): lambda t: {"driver_user_id": t.user_ids["driver"]},
    ("post", "/api/v1/drivers"): lambda t: {"user_id": t.user_ids["driver"], "name": "FK probe"},
    ("patch", "/api/v1/drivers/{driver_id}"): lambda t: {"user_id": t.user_ids["driver"]},
    ("post", "/api/v1/containers"): lambda t: {
        "number": "FK-1",
        "container_type": "afzetcontainer",
        "location_kind": "site",
        "site_id": t.customer_site_id,
    },
    ("patch", "/api/v1/containers/{container_id}"): lambda t: {
        "location_kind": "site",
        "site_id": t.customer_site_id,
    },
    ("post", "/api/v1/materials"): lambda t: {
        "code": "FK",
        "description": "FK probe",
        "article_id": t.article_id,
    },
    ("patch", "/api/v1/materials/{material_id}"): lambda t: {"article_id": t.article_id},
    ("post", "/api/v1/waste-streams"): lambda t: {
        "number": "123451234567",
        "customer_id": t.customer_id,
        "processor_site_id": t.processor_site_id,
        "material_id": t.material_id,
        "valid_from": "2026-01-01",
    },
    ("patch", "/api/v1/waste-streams/{waste_stream_id}"): lambda t: {
        "customer_id": t.customer_id,
        "processor_site_id": t.processor_site_id,
        "material_id": t.material_id,
    },
    ("post", "/api/v1/articles"): lambda t: {"code": "FK", "name": "FK probe", "unit": "TNE"},
    ("patch", "/api/v1/articles/{article_id}"): lambda t: {"name": "FK probe"},
    ("post", "/api/v1/users"): lambda t: {
        "email": "fk-probe@probe.example",
        "roles": ["customer"],
        "customer_id": t.customer_id,
    },
    ("patch", "/api/v1/users/{user_id}"): lambda t: {
        "roles": ["customer"],
        "customer_id": t.customer_id,
    },
    ("post", "/api/v1/intake/webshop/{tenant_slug}"): lambda t: {},  # signed: no references
    ("post", "/api/v1/schedules"): lambda t: {
        "customer_id": t.customer_id,
        "site_id": t.customer_site_id,
        "order_type": "container_exchange",
        "material_id": t.material_id,
        "container_id": t.container_id,
        "weekdays": [1],
        "start_date": "2027-01-04",
    },
    ("patch", "/api/v1/schedules/{schedule_id}"): lambda t: {
        "site_id": t.customer_site_id,
        "material_id": t.material_id,
        "container_id": t.container_id,
    },
    ("post", "/api/v1/portal/orders"): lambda t: {
        "site_id": t.customer_site_id,
        "order_type": "container_place",
        "material_id": t.material_id,
    },
}

NOT_REFERENCES = {"vat_id", "peppol_id", "shop_order_id", "request_id"}
"""Fields named ``*_id`` that are identifiers of the outside world, not rows."""

CUSTOMER_ROUTES = ("/api/v1/portal/",)
"""Routes for customer users (the portal): probed with the customer user's token."""


def _deref(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _json_body_schema(doc: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    schema = _deref(doc, content["application/json"]["schema"])
    if "anyOf" in schema:  # an optional body: ``X | None``
        schema = next(_deref(doc, s) for s in schema["anyOf"] if s.get("type") != "null")
    return schema


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


def _is_reference(name: str) -> bool:
    return name.endswith("_id") and name not in NOT_REFERENCES


def references(doc: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(method, path, where, field) for every reference a client sends."""
    out = []
    for method, path, op in _operations(doc):
        for param in op.get("parameters", []):
            if _is_reference(param["name"]):
                out.append((method, path, param["in"], param["name"]))
        body = _json_body_schema(doc, op)
        for name in (body or {}).get("properties", {}):
            if _is_reference(name):
                out.append((method, path, "body", name))
    return out


def _auth_for(op: dict[str, Any], t: TenantWorld, path: str = "") -> dict[str, Any]:
    schemes = {name for req in op.get("security", []) for name in req}
    if any("basic" in s.lower() for s in schemes):
        return {"auth": t.basic()}
    if path.startswith(CUSTOMER_ROUTES):
        return {"headers": t.bearer("customer")}
    return {"headers": t.bearer("owner")}


def _call(
    api: SecurityApi,
    method: str,
    path: str,
    op: dict[str, Any],
    *,
    caller: TenantWorld,
    path_values: dict[str, Any],
    query: dict[str, Any],
    body: dict[str, Any] | None,
) -> Any:
    url = path
    for name, value in path_values.items():
        url = url.replace("{" + name + "}", str(value))
    files = None
    if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
        # a sound file for every upload field: only the reference may be wrong
        files = {"file": ("probe.png", png_bytes(), "image/png")}
    with api.client() as c:
        return c.request(
            method, url, params=query, json=body, files=files, **_auth_for(op, caller, path)
        )


def _path_values(path: str, op: dict[str, Any], t: TenantWorld) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in op.get("parameters", []):
        if param["in"] == "path":
            values[param["name"]] = t.ref(param["name"]) if _is_reference(param["name"]) else "x"
    return values


def test_every_reference_is_covered(openapi: dict[str, Any]) -> None:
    """Every operation with a JSON body has a baseline, and the walk finds the references the
    probe used (so an empty walk cannot pass)."""
    ops = {(m, p) for m, p, op in _operations(openapi) if _json_body_schema(openapi, op)}
    assert ops - BASELINES.keys() == set(), "add a baseline body for these operations"
    found = {(m, p, f) for m, p, _, f in references(openapi)}
    assert {
        ("post", "/api/v1/orders", "customer_id"),
        ("post", "/api/v1/orders", "site_id"),
        ("post", "/api/v1/orders", "vehicle_id"),
        ("get", "/api/v1/orders/{order_id}", "order_id"),
        ("get", "/api/v1/documents/{document_id}/content", "document_id"),
    } <= found


def _cases() -> list[Any]:
    # The document is only known at run time (it needs the app); the ids are stable names.
    from tests.security.conftest import openapi_document

    env = {
        "OMS_SECRET_KEY": "collect-only",
        "OMS_DATABASE_URL": "sqlite://",
        "OMS_DATA_DIR": "var",
    }
    doc = openapi_document(env)
    return [
        pytest.param(m, p, where, f, id=f"{m.upper()} {p} {where}:{f}")
        for m, p, where, f in references(doc)
    ]


def _count(api: SecurityApi) -> tuple[int, int]:
    with api.factory() as s:
        return (
            s.scalar(select(func.count()).select_from(Order)) or 0,
            s.scalar(select(func.count()).select_from(Device)) or 0,
        )


@pytest.mark.parametrize("method,path,where,field", _cases())
def test_another_tenants_reference_is_refused(
    security_api: SecurityApi, method: str, path: str, where: str, field: str
) -> None:
    api, a, b = security_api, security_api.a, security_api.b
    op = api.openapi["paths"][path][method]
    path_values = _path_values(path, op, a)
    query: dict[str, Any] = {}
    body = BASELINES[(method, path)](a) if (method, path) in BASELINES else None
    if where == "path":
        path_values[field] = b.ref(field)
    elif where == "query":
        query[field] = b.ref(field)
    else:
        assert body is not None
        body[field] = b.ref(field)
    before = _count(api)
    r = _call(api, method, path, op, caller=a, path_values=path_values, query=query, body=body)
    assert set(r.json()) == {"error", "detail"}, r.text
    if where == "path":
        assert r.status_code == 404, r.text
    else:
        assert r.status_code == 422, r.text
        assert field in json.dumps(r.json()["detail"]), r.text
    # nothing of the other tenant shows through (its truck's plate, its names)
    for secret in (f"{b.slug[:2].upper()}-100-T", f"{b.slug} yard", f"{b.slug} klant"):
        assert secret not in r.text, r.text
    assert _count(api) == before, "a refused request created rows"


def test_a_customers_site_is_only_for_that_customer(security_api: SecurityApi) -> None:
    """Within one tenant: the site of one customer cannot be used for another's order."""
    a = security_api.a
    body = {
        "customer_id": a.other_customer_id,
        "order_type": "container_place",
        "site_id": a.customer_site_id,
    }
    with security_api.client() as c:
        r = c.post("/api/v1/orders", json=body, headers=a.bearer("planner"))
    assert r.status_code == 422 and "site_id" in r.json()["detail"], r.text
