"""Every route of the OpenAPI document with out-of-range ids, oversize strings, NUL and wrong
types (issue 8, finding 4): the answer is a 4xx with ``{"error", "detail"}``, never a 5xx and
never a dropped connection. Plus two static checks that keep the limits in the schema: every
input is bounded, and a string's limit is never larger than the column it is stored in."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import Column, String

from cloud.devices.models import Device
from cloud.documents.models import Document
from cloud.orders.models import Order
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
