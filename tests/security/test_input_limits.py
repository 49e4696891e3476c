"""Every route of the OpenAPI document with out-of-range ids, oversize strings, NUL and wrong
types (issue 8, finding 4): the answer is a 4xx with ``{"error", "detail"}``, never a 5xx and
never a dropped connection. Plus two static checks that keep the limits in the schema: every
input is bounded, and a string's limit is never larger than the column it is stored in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Column, String

from cloud.articles.models import Article
from cloud.audit.models import FieldChange
from cloud.containers.models import Container
from cloud.customers.models import Customer, Site
from cloud.devices.models import Device
from cloud.documents.models import Document
from cloud.fleet.models import Driver, Vehicle
from cloud.materials.models import Material
from cloud.orders.models import Order
from cloud.schedules.models import Schedule
from cloud.tenancy.models import User
from tests.security.conftest import SecurityApi, openapi_document
from tests.security.test_foreign_keys import BASELINES, _deref, _json_body_schema, _operations

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

HUGE = 2**63
NUL = "a\x00b"
EXTREME_DATES: dict[str, list[str]] = {
    # valid syntax, at the ends of what Python's datetime holds: converting to UTC or shifting
    # by a day overflows there (500s before the bounded type)
    "date-time": [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00Z",
        "0001-01-01T23:59:59+14:00",
        "0001-01-02T00:00:00Z",
        "9999-12-31T23:59-05:00",
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T00:00:00-14:00",
        "1999-12-31T23:00:00+01:00",
        "2101-01-01T00:00:00Z",
    ],
    "date": ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01"],
}


def _doc() -> dict[str, Any]:
    env = {"OMS_SECRET_KEY": "collect-only", "OMS_DATABASE_URL": "sqlite://", "OMS_DATA_DIR": "var"}
    return openapi_document(env)


def _flat(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The non-null alternative of ``X | None``, dereferenced."""
    schema = _deref(doc, schema)
    if "anyOf" in schema:
        options = [_deref(doc, s) for s in schema["anyOf"] if s.get("type") != "null"]
        if len(options) == 1:
            return options[0]
    return schema


def _bad_values(doc: dict[str, Any], schema: dict[str, Any], *, query: bool = False) -> list[Any]:
    """Values a well-behaved client would never send for this schema. In a query string
    everything is text, so only the text itself can be wrong there."""
    s = _flat(doc, schema)
    kind = s.get("type")
    if kind == "integer":
        return [HUGE, -HUGE - 2, 2**31, "twelve", 1.5, [1]]
    if kind == "number":
        return ["1e999", "NaN", "x", [1]]
    if kind == "string":
        # beyond the limit; without one, more than a URL carries or any column holds
        limit = s.get("maxLength", 6000 if query else 100_000)
        bad: list[Any] = ["x" * (limit + 1), NUL]
        if not query:
            bad += [12, ["x"]]
        if "enum" in s or "pattern" in s or "format" in s:
            bad.append("not-a-valid-value-%")
        return bad + EXTREME_DATES.get(s.get("format", ""), [])
    if kind == "boolean":
        return ["maybe", 2]
    if kind == "array":
        return ["not-a-list", [None] * 3]
    if kind == "object" or "properties" in s:
        return ["not-an-object", [1, 2]]
    return [["unexpected"], NUL]


def _path_probe(doc: dict[str, Any], schema: dict[str, Any]) -> list[Any]:
    s = _flat(doc, schema)
    if s.get("type") == "integer":
        return [2**31, HUGE, HUGE * 4, -1, 0, "abc", "1.5"]
    limit = s.get("maxLength", 1000)
    return ["x" * (limit + 1), "%00", "A" * 64, "..%2F..%2Fetc"]


def _probes() -> list[Any]:
    doc = _doc()
    out = []
    for method, path, op in _operations(doc):
        for param in op.get("parameters", []):
            if param["in"] == "path":
                values = _path_probe(doc, param["schema"])
            elif param["in"] == "query":
                values = _bad_values(doc, param["schema"], query=True)
            else:
                continue
            for i, value in enumerate(values):
                out.append(
                    pytest.param(
                        method, path, param["in"], param["name"], value,
                        id=f"{method.upper()} {path} {param['in']}:{param['name']}#{i}",
                    )
                )  # fmt: skip
        body = _json_body_schema(doc, op)
        if body is not None:
            out.append(pytest.param(method, path, "body", "", [1], id=f"{method} {path} body:[]"))
            out.append(pytest.param(method, path, "body", "", "x", id=f"{method} {path} body:str"))
            for name, prop in body.get("properties", {}).items():
                for i, value in enumerate(_bad_values(doc, prop)):
                    out.append(
                        pytest.param(
                            method, path, "body", name, value,
                            id=f"{method.upper()} {path} body:{name}#{i}",
                        )
                    )  # fmt: skip
    return out


def _auth(op: dict[str, Any], api: SecurityApi) -> dict[str, Any]:
    schemes = {name for req in op.get("security", []) for name in req}
    if any("basic" in s.lower() for s in schemes):
        return {"auth": api.a.basic()}
    return {"headers": api.a.bearer("owner")}


def _fill_path(path: str, op: dict[str, Any], api: SecurityApi) -> str:
    for param in op.get("parameters", []):
        if param["in"] == "path":
            name = param["name"]
            value = api.a.ref(name) if name.endswith("_id") else "0" * 64
            path = path.replace("{" + name + "}", str(value))
    return path


@pytest.mark.parametrize("method,path,where,name,value", _probes())
def test_bad_input_gets_a_4xx_with_the_error_shape(
    security_api: SecurityApi, method: str, path: str, where: str, name: str, value: Any
) -> None:
    api = security_api
    op = api.openapi["paths"][path][method]
    url = path
    query: dict[str, Any] = {}
    body: Any = None
    if where == "path":
        url = path.replace("{" + name + "}", str(value))
    elif where == "query":
        query[name] = value if isinstance(value, str) else str(value)
    url = _fill_path(url, op, api)
    if (method, path) in BASELINES:
        body = BASELINES[(method, path)](api.a)
    if where == "body":
        if name:
            body[name] = value
        else:
            body = value
    files = None
    if "multipart/form-data" in op.get("requestBody", {}).get("content", {}):
        files = {"file": ("probe.txt", b"probe", "text/plain")}
    with (
        httpx.Client(base_url=api.base_url, timeout=20) as c,
        c.stream(method, url, params=query, json=body, files=files, **_auth(op, api)) as r,
    ):
        if r.headers.get("content-type", "").startswith("text/event-stream"):
            pytest.fail(f"a stream was opened for bad input: {r.status_code}")
        r.read()
    assert 400 <= r.status_code < 500, f"{r.status_code}: {r.text[:500]}\n{api.log_tail(2000)}"
    assert set(r.json()) == {"error", "detail"}, r.text


# -- the limits are in the schema ----------------------------------------------------------------


def _inputs(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(where, name, schema) of every parameter and JSON body property."""
    out = []
    for method, path, op in _operations(doc):
        for param in op.get("parameters", []):
            out.append((f"{method} {path} {param['in']}", param["name"], param["schema"]))
        body = _json_body_schema(doc, op)
        for name, prop in (body or {}).get("properties", {}).items():
            out.append((f"{method} {path} body", name, prop))
    return out


def test_every_input_is_bounded() -> None:
    """Integers have a maximum, strings a maximum length (or an enum), so the database never
    sees a value it cannot hold."""
    doc = _doc()
    unbounded = []
    for where, name, schema in _inputs(doc):
        s = _flat(doc, schema)
        if s.get("format") in ("date", "date-time"):
            continue  # parsed, never stored as text
        if {o.get("type") for o in s.get("anyOf", [])} >= {"number", "string"}:
            continue  # a Decimal: its digits are bounded by max_digits, not by the schema
        if s.get("type") == "integer" and "maximum" not in s:
            unbounded.append(f"{where} {name}: integer without maximum")
        if s.get("type") == "string" and "maxLength" not in s and "enum" not in s:
            unbounded.append(f"{where} {name}: string without maxLength")
    assert unbounded == []


# Column namespaces for the table below (``Customer_.name`` is ``customers.name``).
Customer_, Site_, Vehicle_, Driver_ = (m.__table__.c for m in (Customer, Site, Vehicle, Driver))
Container_, Material_, Article_ = (m.__table__.c for m in (Container, Material, Article))
User_, Order_, Schedule_, FieldChange_ = (
    m.__table__.c for m in (User, Order, Schedule, FieldChange)
)

# Where each string input is stored. A new string field must be added here: with its column,
# or with None and the reason it is not stored as sent.
STORED_IN: dict[str, Column[Any] | None] = {
    "post /api/v1/orders body.material": Order.__table__.c.material,
    "post /api/v1/orders body.container_type": Order.__table__.c.container_type,
    "post /api/v1/orders body.reference": Order.__table__.c.reference,
    "post /api/v1/orders body.notes": Order.__table__.c.notes,
    "post /api/v1/orders body.order_type": Order.__table__.c.order_type,
    "post /api/v1/orders body.requested_date": None,  # a date
    "post /api/v1/orders body.window_start": None,  # a timestamp
    "post /api/v1/orders body.window_end": None,
    "post /api/v1/orders body.expected_quantity_kg": None,  # a decimal (precision checked)
    "post /api/v1/devices body.id": Device.__table__.c.id,
    "post /api/v1/devices body.name": Device.__table__.c.name,
    "post /api/v1/devices body.kind": Device.__table__.c.kind,
    "post /api/v1/devices/{device_id}/revoke body.reason": Device.__table__.c.revoked_reason,
    "post /api/v1/auth/token body.email": User.__table__.c.email,
    "post /api/v1/auth/token body.password": None,  # only its scrypt hash is stored
    "put /api/v1/device/documents/{sha256} query.filename": Document.__table__.c.filename,
    "put /api/v1/device/documents/{sha256} query.original_sha256": (
        Document.__table__.c.original_sha256
    ),
    "put /api/v1/device/documents/{sha256} query.kind": Document.__table__.c.kind,
    "post /api/v1/orders/{order_id}/documents query.kind": Document.__table__.c.kind,
    # issue 9
    "post /api/v1/me/password body.current_password": None,  # compared with the hash only
    "post /api/v1/me/password body.new_password": None,  # only its scrypt hash is stored
    "patch /api/v1/orders/{order_id} body.order_type": Order_.order_type,
    "patch /api/v1/orders/{order_id} body.material": Order_.material,
    "patch /api/v1/orders/{order_id} body.requested_date": None,  # a date
    "patch /api/v1/orders/{order_id} body.window_start": None,  # a timestamp
    "patch /api/v1/orders/{order_id} body.window_end": None,  # a timestamp
    "patch /api/v1/orders/{order_id} body.container_type": Order_.container_type,
    "patch /api/v1/orders/{order_id} body.reference": Order_.reference,
    "patch /api/v1/orders/{order_id} body.notes": Order_.notes,
    "patch /api/v1/orders/{order_id} body.reason": FieldChange_.reason,
    "post /api/v1/orders/{order_id}/cancel body.reason": Order_.cancel_reason,
    "post /api/v1/customers body.number": Customer_.number,
    "post /api/v1/customers body.name": Customer_.name,
    "post /api/v1/customers body.country": Customer_.country,
    "post /api/v1/customers body.street": Customer_.street,
    "post /api/v1/customers body.postal_code": Customer_.postal_code,
    "post /api/v1/customers body.city": Customer_.city,
    "post /api/v1/customers body.vat_id": Customer_.vat_id,
    "post /api/v1/customers body.kvk": Customer_.kvk,
    "post /api/v1/customers body.email": Customer_.email,
    "post /api/v1/customers body.invoice_email": Customer_.invoice_email,
    "post /api/v1/customers body.phone": Customer_.phone,
    "post /api/v1/customers body.invoice_grouping": Customer_.invoice_grouping,
    "post /api/v1/customers body.einvoice_format": Customer_.einvoice_format,
    "post /api/v1/customers body.peppol_id": Customer_.peppol_id,
    "post /api/v1/customers body.notes": Customer_.notes,
    "patch /api/v1/customers/{customer_id} body.reason": FieldChange_.reason,
    "patch /api/v1/customers/{customer_id} body.name": Customer_.name,
    "patch /api/v1/customers/{customer_id} body.street": Customer_.street,
    "patch /api/v1/customers/{customer_id} body.postal_code": Customer_.postal_code,
    "patch /api/v1/customers/{customer_id} body.city": Customer_.city,
    "patch /api/v1/customers/{customer_id} body.country": Customer_.country,
    "patch /api/v1/customers/{customer_id} body.vat_id": Customer_.vat_id,
    "patch /api/v1/customers/{customer_id} body.kvk": Customer_.kvk,
    "patch /api/v1/customers/{customer_id} body.email": Customer_.email,
    "patch /api/v1/customers/{customer_id} body.invoice_email": Customer_.invoice_email,
    "patch /api/v1/customers/{customer_id} body.phone": Customer_.phone,
    "patch /api/v1/customers/{customer_id} body.invoice_grouping": Customer_.invoice_grouping,
    "patch /api/v1/customers/{customer_id} body.einvoice_format": Customer_.einvoice_format,
    "patch /api/v1/customers/{customer_id} body.peppol_id": Customer_.peppol_id,
    "patch /api/v1/customers/{customer_id} body.notes": Customer_.notes,
    "post /api/v1/sites body.name": Site_.name,
    "post /api/v1/sites body.kind": Site_.kind,
    "post /api/v1/sites body.country": Site_.country,
    "post /api/v1/sites body.street": Site_.street,
    "post /api/v1/sites body.postal_code": Site_.postal_code,
    "post /api/v1/sites body.city": Site_.city,
    "post /api/v1/sites body.access_notes": Site_.access_notes,
    "post /api/v1/sites body.processor_number": Site_.processor_number,
    "patch /api/v1/sites/{site_id} body.reason": FieldChange_.reason,
    "patch /api/v1/sites/{site_id} body.name": Site_.name,
    "patch /api/v1/sites/{site_id} body.kind": Site_.kind,
    "patch /api/v1/sites/{site_id} body.street": Site_.street,
    "patch /api/v1/sites/{site_id} body.postal_code": Site_.postal_code,
    "patch /api/v1/sites/{site_id} body.city": Site_.city,
    "patch /api/v1/sites/{site_id} body.country": Site_.country,
    "patch /api/v1/sites/{site_id} body.access_notes": Site_.access_notes,
    "patch /api/v1/sites/{site_id} body.processor_number": Site_.processor_number,
    "post /api/v1/vehicles body.plate": Vehicle_.plate,
    "post /api/v1/vehicles body.kind": Vehicle_.kind,
    "post /api/v1/vehicles body.vehicle_type": Vehicle_.vehicle_type,
    "post /api/v1/vehicles body.stored_tare_valid_until": None,  # a date
    "post /api/v1/vehicles body.licence_category": Vehicle_.licence_category,
    "post /api/v1/vehicles body.rfid_card": Vehicle_.rfid_card,
    "patch /api/v1/vehicles/{vehicle_id} body.plate": Vehicle_.plate,
    "patch /api/v1/vehicles/{vehicle_id} body.kind": Vehicle_.kind,
    "patch /api/v1/vehicles/{vehicle_id} body.vehicle_type": Vehicle_.vehicle_type,
    "patch /api/v1/vehicles/{vehicle_id} body.stored_tare_valid_until": None,  # a date
    "patch /api/v1/vehicles/{vehicle_id} body.licence_category": Vehicle_.licence_category,
    "patch /api/v1/vehicles/{vehicle_id} body.rfid_card": Vehicle_.rfid_card,
    "post /api/v1/drivers body.name": Driver_.name,
    "post /api/v1/drivers body.phone": Driver_.phone,
    "post /api/v1/drivers body.licence_valid_until": None,  # a date
    "post /api/v1/drivers body.adr_valid_until": None,  # a date
    "patch /api/v1/drivers/{driver_id} body.name": Driver_.name,
    "patch /api/v1/drivers/{driver_id} body.phone": Driver_.phone,
    "patch /api/v1/drivers/{driver_id} body.licence_valid_until": None,  # a date
    "patch /api/v1/drivers/{driver_id} body.adr_valid_until": None,  # a date
    "post /api/v1/containers body.number": Container_.number,
    "post /api/v1/containers body.container_type": Container_.container_type,
    "post /api/v1/containers body.rfid_tag": Container_.rfid_tag,
    "post /api/v1/containers body.location_kind": Container_.location_kind,
    "post /api/v1/containers body.located_since": None,  # a timestamp
    "patch /api/v1/containers/{container_id} body.number": Container_.number,
    "patch /api/v1/containers/{container_id} body.container_type": Container_.container_type,
    "patch /api/v1/containers/{container_id} body.rfid_tag": Container_.rfid_tag,
    "patch /api/v1/containers/{container_id} body.location_kind": Container_.location_kind,
    "patch /api/v1/containers/{container_id} body.located_since": None,  # a timestamp
    "post /api/v1/materials body.code": Material_.code,
    "post /api/v1/materials body.description": Material_.description,
    # normalised: digits and '*' only, at most 7 stored
    "post /api/v1/materials body.eural_code": None,
    "patch /api/v1/materials/{material_id} body.code": Material_.code,
    "patch /api/v1/materials/{material_id} body.description": Material_.description,
    # normalised: digits and '*' only, at most 7 stored
    "patch /api/v1/materials/{material_id} body.eural_code": None,
    "post /api/v1/waste-streams body.number": None,  # normalised: 12 characters stored
    "post /api/v1/waste-streams body.valid_from": None,  # a date
    "post /api/v1/waste-streams body.valid_until": None,  # a date
    # normalised: 12 characters stored
    "patch /api/v1/waste-streams/{waste_stream_id} body.number": None,
    "patch /api/v1/waste-streams/{waste_stream_id} body.valid_from": None,  # a date
    "patch /api/v1/waste-streams/{waste_stream_id} body.valid_until": None,  # a date
    "post /api/v1/articles body.code": Article_.code,
    "post /api/v1/articles body.name": Article_.name,
    "post /api/v1/articles body.unit": Article_.unit,
    "post /api/v1/articles body.vat_category": Article_.vat_category,
    "post /api/v1/articles body.ledger_code": Article_.ledger_code,
    "patch /api/v1/articles/{article_id} body.code": Article_.code,
    "patch /api/v1/articles/{article_id} body.name": Article_.name,
    "patch /api/v1/articles/{article_id} body.unit": Article_.unit,
    "patch /api/v1/articles/{article_id} body.vat_category": Article_.vat_category,
    "patch /api/v1/articles/{article_id} body.ledger_code": Article_.ledger_code,
    "post /api/v1/users body.email": User_.email,
    "post /api/v1/users body.name": User_.name,
    "post /api/v1/users body.locale": User_.locale,
    "post /api/v1/users body.password": None,  # only its scrypt hash is stored
    "patch /api/v1/users/{user_id} body.name": User_.name,
    "patch /api/v1/users/{user_id} body.locale": User_.locale,
    # 'webshop:' + 64 <= 80
    "post /api/v1/intake/webshop/{tenant_slug} body.shop_order_id": Order_.source_ref,
    "post /api/v1/intake/webshop/{tenant_slug} body.order_type": Order_.order_type,
    "post /api/v1/intake/webshop/{tenant_slug} body.container_type": Order_.container_type,
    # looked up in Material.code
    "post /api/v1/intake/webshop/{tenant_slug} body.material_code": None,
    "post /api/v1/intake/webshop/{tenant_slug} body.requested_date": None,  # a date
    "post /api/v1/intake/webshop/{tenant_slug} body.reference": Order_.reference,
    "post /api/v1/intake/webshop/{tenant_slug} body.notes": Order_.notes,
    "post /api/v1/schedules body.order_type": Schedule_.order_type,
    "post /api/v1/schedules body.container_type": Schedule_.container_type,
    "post /api/v1/schedules body.start_date": None,  # a date
    "post /api/v1/schedules body.until_date": None,  # a date
    "post /api/v1/schedules body.reference": Schedule_.reference,
    "post /api/v1/schedules body.notes": Schedule_.notes,
    "patch /api/v1/schedules/{schedule_id} body.order_type": Schedule_.order_type,
    "patch /api/v1/schedules/{schedule_id} body.container_type": Schedule_.container_type,
    "patch /api/v1/schedules/{schedule_id} body.start_date": None,  # a date
    "patch /api/v1/schedules/{schedule_id} body.until_date": None,  # a date
    "patch /api/v1/schedules/{schedule_id} body.reference": Schedule_.reference,
    "patch /api/v1/schedules/{schedule_id} body.notes": Schedule_.notes,
    "post /api/v1/portal/orders body.order_type": Order_.order_type,
    "post /api/v1/portal/orders body.requested_date": None,  # a date
    "post /api/v1/portal/orders body.window_start": None,  # a timestamp
    "post /api/v1/portal/orders body.window_end": None,  # a timestamp
    "post /api/v1/portal/orders body.container_type": Order_.container_type,
    "post /api/v1/portal/orders body.material": Order_.material,
    "post /api/v1/portal/orders body.reference": Order_.reference,
    "post /api/v1/portal/orders body.notes": Order_.notes,
    # 'portal:<customer>:' + 60 <= 80
    "post /api/v1/portal/orders body.request_id": Order_.source_ref,
}
NOT_STORED_PARAMS = {"path", "header", "cookie"}
"""Path parameters name rows (checked by the route); query strings of reads filter rows."""


def test_string_limits_match_their_columns() -> None:
    doc = _doc()
    problems = []
    seen = set()
    for method, path, op in _operations(doc):
        fields: list[tuple[str, dict[str, Any]]] = []
        for param in op.get("parameters", []):
            if param["in"] == "query" and method != "get":
                fields.append((f"query.{param['name']}", param["schema"]))
        body = _json_body_schema(doc, op)
        for name, prop in (body or {}).get("properties", {}).items():
            fields.append((f"body.{name}", prop))
        for key, schema in fields:
            s = _flat(doc, schema)
            if s.get("type") != "string":
                continue
            label = f"{method} {path} {key}"
            seen.add(label)
            if label not in STORED_IN:
                problems.append(f"{label}: say where it is stored (STORED_IN)")
                continue
            column = STORED_IN[label]
            if column is None or not isinstance(column.type, String) or column.type.length is None:
                continue
            limit = s.get("maxLength")
            if "enum" in s:
                limit = max(len(v) for v in s["enum"])
            if limit is None or limit > column.type.length:
                problems.append(f"{label}: limit {limit} > column {column}({column.type.length})")
    assert problems == []
    assert seen, "the walk found no string inputs"
