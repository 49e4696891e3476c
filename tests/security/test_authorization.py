"""The role x route matrix (issue 9, item 6): every route of the application, API and web
pages alike, with the permission it needs, walked for every role and across tenants.

- ``MATRIX`` names, for each route, the ``cloud.permissions.Action`` it needs, or who else may
  call it (public, a device, a signed webhook, any signed-in user). A route missing from it,
  or an entry for a route that no longer exists, fails ``test_the_matrix_covers_every_route``.
- API routes declare their action with ``cloud.http.deps.allowed``: the declared action must
  be the matrix's (``test_routes_declare_the_matrix_action``).
- Each role calls each route of tenant A with tenant A's objects: a role without the action
  gets 403; with it, a read answers (not 401/403). Writes are only probed where they must be
  refused, so the walk changes nothing.
- A user of tenant B (the owner: every action) gets 404 for every object of tenant A, on every
  route with an object in its path.
- Server-owned fields (tenant, status, number, audit fields...) are in no request body, and
  sending one is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cloud.permissions import ROLES, Action, can
from tests.security.conftest import SecurityApi, TenantWorld, openapi_document, png_bytes
from tests.security.test_foreign_keys import BASELINES

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PUBLIC = "public"
"""No caller identity: login, health, API docs, the login page, static files."""
DEVICE = "device"
"""A device with its broker credential (HTTP Basic)."""
SIGNED = "signed"
"""A webhook signed with the tenant's secret (Standard Webhooks)."""
SIGNED_IN = "signed-in"
"""Any signed-in user, whatever the roles (their own session: logout, ``/me``)."""

A = Action
MATRIX: dict[tuple[str, str], Action | str] = {
    # platform
    ("GET", "/api/openapi.json"): PUBLIC,
    ("POST", "/api/v1/auth/token"): PUBLIC,
    ("DELETE", "/api/v1/auth/token"): SIGNED_IN,
    ("GET", "/api/v1/me"): SIGNED_IN,
    ("POST", "/api/v1/me/password"): SIGNED_IN,
    ("GET", "/account"): SIGNED_IN,
    ("POST", "/account/password"): SIGNED_IN,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/docs"): PUBLIC,
    ("GET", "/api/docs/assets/{name}"): PUBLIC,
    # orders
    ("GET", "/api/v1/orders"): A.ORDER_READ,
    ("POST", "/api/v1/orders"): A.ORDER_CREATE,
    ("GET", "/api/v1/orders/{order_id}"): A.ORDER_READ,
    ("POST", "/api/v1/orders/{order_id}/dispatch"): A.ORDER_DISPATCH,
    ("GET", "/api/v1/orders/{order_id}/measurements"): A.ORDER_READ,
    # devices
    ("GET", "/api/v1/devices"): A.DEVICE_READ,
    ("POST", "/api/v1/devices"): A.DEVICE_MANAGE,
    ("GET", "/api/v1/devices/stream"): A.FLEET_LIVE,
    ("GET", "/api/v1/devices/{device_id}"): A.DEVICE_READ,
    ("POST", "/api/v1/devices/{device_id}/rotate"): A.DEVICE_MANAGE,
    ("POST", "/api/v1/devices/{device_id}/revoke"): A.DEVICE_MANAGE,
    ("POST", "/api/v1/devices/{device_id}/push-config"): A.DEVICE_CONFIG,
    ("GET", "/api/v1/devices/{device_id}/measurements"): A.DEVICE_READ,
    ("GET", "/api/v1/devices/{device_id}/positions"): A.DEVICE_READ,
    # documents
    ("PUT", "/api/v1/device/documents/{sha256}"): DEVICE,
    ("GET", "/api/v1/orders/{order_id}/documents"): A.DOCUMENT_READ,
    ("POST", "/api/v1/orders/{order_id}/documents"): A.DOCUMENT_WRITE,
    ("GET", "/api/v1/documents/{document_id}/content"): A.DOCUMENT_READ,
    ("GET", "/"): PUBLIC,
    # issue 9: master data, intake, schedules, portal, users, and the web pages
    ("GET", "/api/v1/articles"): A.MASTERDATA_READ,
    ("POST", "/api/v1/articles"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/articles/{article_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/articles/{article_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/articles/{article_id}/history"): A.MASTERDATA_READ,
    ("GET", "/api/v1/containers"): A.MASTERDATA_READ,
    ("POST", "/api/v1/containers"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/containers/{container_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/containers/{container_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/containers/{container_id}/history"): A.MASTERDATA_READ,
    ("GET", "/api/v1/customers"): A.MASTERDATA_READ,
    ("POST", "/api/v1/customers"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/customers/{customer_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/customers/{customer_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/customers/{customer_id}/history"): A.MASTERDATA_READ,
    ("GET", "/api/v1/customers/{customer_id}/sites"): A.MASTERDATA_READ,
    ("GET", "/api/v1/drivers"): A.MASTERDATA_READ,
    ("POST", "/api/v1/drivers"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/drivers/{driver_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/drivers/{driver_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/drivers/{driver_id}/history"): A.MASTERDATA_READ,
    ("POST", "/api/v1/imports/{entity}"): A.MASTERDATA_IMPORT,
    ("GET", "/api/v1/intake/webshop/schema"): PUBLIC,
    ("POST", "/api/v1/intake/webshop/{tenant_slug}"): SIGNED,
    ("GET", "/api/v1/materials"): A.MASTERDATA_READ,
    ("POST", "/api/v1/materials"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/materials/{material_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/materials/{material_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/materials/{material_id}/history"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/orders/{order_id}"): A.ORDER_UPDATE,
    ("POST", "/api/v1/orders/{order_id}/cancel"): A.ORDER_CANCEL,
    ("GET", "/api/v1/orders/{order_id}/history"): A.ORDER_AUDIT_READ,
    ("GET", "/api/v1/portal/orders"): A.ORDER_READ,
    ("POST", "/api/v1/portal/orders"): A.ORDER_REQUEST,
    ("GET", "/api/v1/portal/orders/{order_id}"): A.ORDER_READ,
    ("GET", "/api/v1/portal/orders/{order_id}/documents"): A.DOCUMENT_READ,
    ("GET", "/api/v1/portal/orders/{order_id}/documents/{document_id}"): A.DOCUMENT_READ,
    ("GET", "/api/v1/portal/orders/{order_id}/ticket"): A.DOCUMENT_READ,
    ("GET", "/api/v1/portal/sites"): A.ORDER_REQUEST,
    ("GET", "/api/v1/schedules"): A.SCHEDULE_READ,
    ("POST", "/api/v1/schedules"): A.SCHEDULE_WRITE,
    ("POST", "/api/v1/schedules/run"): A.SCHEDULE_WRITE,
    ("GET", "/api/v1/schedules/{schedule_id}"): A.SCHEDULE_READ,
    ("PATCH", "/api/v1/schedules/{schedule_id}"): A.SCHEDULE_WRITE,
    ("POST", "/api/v1/schedules/{schedule_id}/pause"): A.SCHEDULE_WRITE,
    ("POST", "/api/v1/schedules/{schedule_id}/resume"): A.SCHEDULE_WRITE,
    ("GET", "/api/v1/sites"): A.MASTERDATA_READ,
    ("POST", "/api/v1/sites"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/sites/{site_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/sites/{site_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/sites/{site_id}/history"): A.MASTERDATA_READ,
    ("GET", "/api/v1/users"): A.USER_READ,
    ("POST", "/api/v1/users"): A.USER_MANAGE,
    ("GET", "/api/v1/users/{user_id}"): A.USER_READ,
    ("PATCH", "/api/v1/users/{user_id}"): A.USER_MANAGE,
    ("POST", "/api/v1/users/{user_id}/disable"): A.USER_MANAGE,
    ("POST", "/api/v1/users/{user_id}/reset-password"): A.USER_MANAGE,
    ("GET", "/api/v1/vehicles"): A.MASTERDATA_READ,
    ("POST", "/api/v1/vehicles"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/vehicles/{vehicle_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/vehicles/{vehicle_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/vehicles/{vehicle_id}/history"): A.MASTERDATA_READ,
    ("GET", "/api/v1/waste-streams"): A.MASTERDATA_READ,
    ("POST", "/api/v1/waste-streams"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/waste-streams/{waste_stream_id}"): A.MASTERDATA_READ,
    ("PATCH", "/api/v1/waste-streams/{waste_stream_id}"): A.MASTERDATA_WRITE,
    ("GET", "/api/v1/waste-streams/{waste_stream_id}/history"): A.MASTERDATA_READ,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/masterdata"): A.MASTERDATA_READ,
    ("GET", "/masterdata/articles"): A.MASTERDATA_READ,
    ("GET", "/masterdata/articles/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/articles/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/articles/{article_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/articles/{article_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/articles/{article_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/containers"): A.MASTERDATA_READ,
    ("GET", "/masterdata/containers/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/containers/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/containers/{container_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/containers/{container_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/containers/{container_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/customers"): A.MASTERDATA_READ,
    ("GET", "/masterdata/customers/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/customers/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/customers/{customer_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/customers/{customer_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/customers/{customer_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/drivers"): A.MASTERDATA_READ,
    ("GET", "/masterdata/drivers/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/drivers/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/drivers/{driver_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/drivers/{driver_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/drivers/{driver_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/import"): A.MASTERDATA_IMPORT,
    ("POST", "/masterdata/import"): A.MASTERDATA_IMPORT,
    ("GET", "/masterdata/materials"): A.MASTERDATA_READ,
    ("GET", "/masterdata/materials/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/materials/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/materials/{material_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/materials/{material_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/materials/{material_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/sites"): A.MASTERDATA_READ,
    ("GET", "/masterdata/sites/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/sites/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/sites/{site_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/sites/{site_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/sites/{site_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/vehicles"): A.MASTERDATA_READ,
    ("GET", "/masterdata/vehicles/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/vehicles/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/vehicles/{vehicle_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/vehicles/{vehicle_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/vehicles/{vehicle_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/waste-streams"): A.MASTERDATA_READ,
    ("GET", "/masterdata/waste-streams/new"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/waste-streams/new"): A.MASTERDATA_WRITE,
    ("GET", "/masterdata/waste-streams/{waste_stream_id}"): A.MASTERDATA_READ,
    ("GET", "/masterdata/waste-streams/{waste_stream_id}/edit"): A.MASTERDATA_WRITE,
    ("POST", "/masterdata/waste-streams/{waste_stream_id}/edit"): A.MASTERDATA_WRITE,
    ("GET", "/orders"): A.ORDER_READ,
    ("GET", "/orders/form/sites"): A.ORDER_CREATE,
    ("GET", "/orders/form/waste-streams"): A.ORDER_CREATE,
    ("GET", "/orders/new"): A.ORDER_CREATE,
    ("POST", "/orders/new"): A.ORDER_CREATE,
    ("GET", "/orders/{order_id}"): A.ORDER_READ,
    ("POST", "/orders/{order_id}/cancel"): A.ORDER_CANCEL,
    ("GET", "/orders/{order_id}/edit"): A.ORDER_UPDATE,
    ("POST", "/orders/{order_id}/edit"): A.ORDER_UPDATE,
    ("GET", "/portal"): A.ORDER_REQUEST,
    ("GET", "/portal/orders/new"): A.ORDER_REQUEST,
    ("POST", "/portal/orders/new"): A.ORDER_REQUEST,
    ("GET", "/portal/orders/{order_id}"): A.ORDER_REQUEST,
    ("GET", "/portal/orders/{order_id}/documents/{document_id}"): A.ORDER_REQUEST,
    ("GET", "/users"): A.USER_MANAGE,
    ("POST", "/users/new"): A.USER_MANAGE,
    ("POST", "/users/{user_id}/disable"): A.USER_MANAGE,
    ("POST", "/users/{user_id}/reset-password"): A.USER_MANAGE,
}

MULTIPART = {("POST", "/api/v1/orders/{order_id}/documents")}
"""Uploads: probed with a sound file, so that only the object in the path is wrong."""

STREAMS = {"/api/v1/devices/stream"}

CHECKED_INSIDE = {("GET", "/api/v1/devices/stream")}
"""Routes that check their action in the handler (the stream authenticates its own header so
that the slot is taken only after the check); the walk below still probes them."""
"""Server-sent events: probed for the status only (the stream is not read)."""


# -- the routes of the application ------------------------------------------------------------


def _contexts(routes: list[Any]) -> Iterator[Any]:
    for route in routes:
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI >= 0.12x)
            yield from route.effective_route_contexts()
        elif hasattr(route, "methods") and route.methods:
            yield route


def app_routes() -> dict[tuple[str, str], Any]:
    """(method, path) -> the route (with its ``dependant``), as production builds the app."""
    from cloud.entrypoints.app import create_app
    from cloud.settings import Settings

    app = create_app(Settings(environment="test"))
    out = {}
    for ctx in _contexts(list(app.routes)):
        for method in ctx.methods:
            if method != "HEAD":
                out[(method, ctx.path)] = ctx
    return out


def _declared_actions(dependant: Any) -> set[Action]:
    found = set()
    for dep in getattr(dependant, "dependencies", []):
        action = getattr(dep.call, "action", None)
        if isinstance(action, Action):
            found.add(action)
        found |= _declared_actions(dep)
    return found


def test_the_matrix_covers_every_route() -> None:
    routes = set(app_routes())
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing, f"routes missing from the matrix: {missing}"
    assert not stale, f"matrix entries for routes that do not exist: {stale}"


def test_routes_declare_the_matrix_action() -> None:
    wrong = []
    for key, ctx in app_routes().items():
        declared = _declared_actions(getattr(ctx, "dependant", None))
        expected = MATRIX.get(key)
        if declared and {expected} != declared:
            wrong.append(f"{key}: declares {sorted(declared)}, matrix says {expected}")
        if (
            isinstance(expected, Action)
            and not declared
            and key[1].startswith("/api/")
            and key not in CHECKED_INSIDE
        ):
            wrong.append(f"{key}: the matrix says {expected}, the route declares no action")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_catches_a_missing_route() -> None:
    """The coverage check is a set difference: a route without an entry is reported."""
    routes = set(app_routes())
    assert routes, "no routes found: the walk is broken"
    some = next(iter(sorted(routes)))
    assert some in routes - (MATRIX.keys() - {some})


# -- calling every route as every role --------------------------------------------------------

PATH_OBJECTS = {
    "order_id": "order_id",
    "customer_id": "customer_id",
    "site_id": "customer_site_id",
    "vehicle_id": "vehicle_id",
    "document_id": "document_id",
    "device_id": "truck_id",
    "material_id": "material_id",
    "article_id": "article_id",
    "waste_stream_id": "waste_stream_id",
    "container_id": "container_id",
    "driver_id": "driver_id",
    "schedule_id": "schedule_id",
    "user_id": "driver_user",
}
"""Path parameter -> the tenant's object it names (``TenantWorld`` attribute)."""

NOT_OBJECTS = {
    "name": "swagger-ui.css",
    "sha256": "0" * 64,
    "entity": "customers",
    "tenant_slug": "acme",
}


def _object(t: TenantWorld, param: str) -> Any:
    attr = PATH_OBJECTS.get(param)
    if attr is None:
        raise AssertionError(f"path parameter {{{param}}}: add it to PATH_OBJECTS")
    if attr == "driver_user":
        return t.user_ids["driver"]
    return getattr(t, attr)


def _url(path: str, t: TenantWorld) -> str:
    def fill(m: re.Match[str]) -> str:
        name = m.group(1)
        return str(NOT_OBJECTS[name] if name in NOT_OBJECTS else _object(t, name))

    return re.sub(r"\{(\w+)\}", fill, path)


def _request(
    api: SecurityApi,
    method: str,
    path: str,
    *,
    token: str,
    t: TenantWorld,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    if not path.startswith("/api/"):
        return _page(api, method, path, token=token, t=t)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    with api.client() as c:
        if path in STREAMS:
            with c.stream(method, _url(path, t), headers=headers) as r:
                if r.status_code != 200:
                    r.read()
                return r
        if (method, path) in MULTIPART:
            files = {"file": ("probe.png", png_bytes(), "image/png")}
            return c.request(method, _url(path, t), headers=headers, files=files)
        return c.request(method, _url(path, t), headers=headers, json=body)


CSRF = "authorization-walk"


def _page(
    api: SecurityApi, method: str, path: str, *, token: str, t: TenantWorld
) -> httpx.Response:
    """A web page as a signed-in user: the session cookie holds an API token; a form post
    also carries the CSRF double-submit token, so only the permission can refuse it."""
    cookies = {"oms_session": token, "oms_csrf": CSRF}
    headers = {"Accept": "text/html", "X-CSRF-Token": CSRF}
    with api.client(cookies=cookies) as c:
        return c.request(method, _url(path, t), headers=headers, follow_redirects=False)


def _action_routes() -> list[tuple[str, str, Action]]:
    return sorted((m, p, a) for (m, p), a in MATRIX.items() if isinstance(a, Action))


@pytest.mark.parametrize(("method", "path", "action"), _action_routes())
def test_each_role_is_refused_where_it_must_be(
    security_api: SecurityApi, method: str, path: str, action: Action
) -> None:
    t = security_api.a
    answers = {}
    for role in ROLES:
        if method != "GET" and can(frozenset({role}), action):
            continue  # a write that would be allowed is not sent: the walk changes nothing
        r = _request(security_api, method, path, token=t.tokens[role], t=t)
        answers[role] = r.status_code
        if not can(frozenset({role}), action):
            assert r.status_code == 403, f"{role} {method} {path}: {r.status_code} {r.text[:200]}"
            if path.startswith("/api/"):
                assert r.json()["error"], r.text
        elif method == "GET":
            assert r.status_code not in (401, 403), f"{role} {method} {path}: {r.text[:200]}"
    assert answers, "no role was probed"


def _object_routes() -> list[tuple[str, str]]:
    return sorted(
        (m, p)
        for (m, p), a in MATRIX.items()
        if a not in (PUBLIC, DEVICE, SIGNED)
        and any(name not in NOT_OBJECTS for name in re.findall(r"\{(\w+)\}", p))
    )


@pytest.mark.parametrize(("method", "path"), _object_routes())
def test_another_tenant_gets_404_for_every_object(
    security_api: SecurityApi, method: str, path: str
) -> None:
    a, b = security_api.a, security_api.b
    for role in ROLES:
        action = MATRIX[(method, path)]
        if isinstance(action, Action) and not can(frozenset({role}), action):
            continue
        # A valid body of the caller's own rows: only the object in the path is foreign.
        baseline = BASELINES.get((method.lower(), path))
        body = baseline(b) if baseline else ({} if method == "PATCH" else None)
        r = _request(security_api, method, path, token=b.tokens[role], t=a, body=body)
        assert r.status_code == 404, f"{role} of {b.slug}: {method} {path} -> {r.status_code}"


# -- server-owned fields ----------------------------------------------------------------------

SERVER_OWNED = {
    "tenant_id",
    "id",
    "created_at",
    "updated_at",
    "created_by_user_id",
    "executed_at",
    "cancelled_at",
    "last_order_id",
    "hazardous",
    "plate_key",
    "actual_quantity_kg",
    "actual_counts",
    "review_reasons",
    "generated_until",
    "password_hash",
    "credential_hash",
}
"""Never in any request body."""

CLIENT_KEYS = {"DeviceCreate": {"id"}}
"""Where a listed name is the client's own key: a device id is chosen by the operator."""

SERVER_OWNED_BY_BODY = {
    "OrderCreate": {"number", "status", "source", "source_ref"},
    "OrderUpdate": {"number", "status", "source", "source_ref"},
    "PortalOrderRequest": {"customer_id", "number", "status", "source", "source_ref"},
    "UserCreate": {"password_hash", "is_active"},
}
"""More fields owned by the server, per request schema (by name)."""


def _request_bodies(doc: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            for media in ("application/json", "application/x-www-form-urlencoded"):
                schema = content.get(media, {}).get("schema")
                if schema is None:
                    continue
                for ref in _refs(schema):
                    name = ref.rsplit("/", 1)[-1]
                    yield method, path, name, doc["components"]["schemas"][name]


def _refs(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        if "$ref" in schema:
            yield schema["$ref"]
        for value in schema.values():
            yield from _refs(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _refs(value)


def test_no_request_body_carries_a_server_owned_field() -> None:
    doc = openapi_document(
        {
            "OMS_SECRET_KEY": "x" * 40,
            "OMS_DATABASE_URL": "sqlite://",
            "OMS_DATA_DIR": "var",
        }
    )
    bodies = list(_request_bodies(doc))
    assert len(bodies) >= 5, "the walk found no request bodies"
    bad = []
    for method, path, name, schema in bodies:
        props = set(schema.get("properties", {}))
        owned = (SERVER_OWNED - CLIENT_KEYS.get(name, set())) | SERVER_OWNED_BY_BODY.get(
            name, set()
        )
        if props & owned:
            bad.append(f"{method} {path} {name}: {sorted(props & owned)}")
        if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
            bad.append(f"{method} {path} {name}: unknown fields are not refused (extra=forbid)")
    assert not bad, "\n".join(bad)


# -- what a customer's (or driver's) answers may contain -------------------------------------

SEES_OWN_ORDERS_ONLY = ("customer", "driver")


def _readable_gets(role: str) -> list[str]:
    out = []
    for (method, path), action in sorted(MATRIX.items()):
        if method != "GET" or path in STREAMS or action in (DEVICE, SIGNED):
            continue
        if isinstance(action, Action) and not can(frozenset({role}), action):
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("role", SEES_OWN_ORDERS_ONLY)
def test_no_answer_names_another_customer_or_tenant(security_api: SecurityApi, role: str) -> None:
    """Every GET page and API route the role may call, with tenant A's objects: nothing in
    any answer (after redirects) names tenant A's other customer or anything of tenant B."""
    a, b = security_api.a, security_api.b
    foreign = (f"{a.slug} ander", f"{b.slug} klant", f"{b.slug} yard", f"{b.slug} B.V.")
    paths = _readable_gets(role)
    assert "/orders" in paths and "/api/v1/orders" in paths, paths
    leaks = []
    for path in paths:
        url = _url(path, a)
        if path.startswith("/api/"):
            with security_api.client() as c:
                r = c.get(url, headers=a.bearer(role), follow_redirects=True)
        else:
            cookies = {"oms_session": a.tokens[role], "oms_csrf": CSRF}
            with security_api.client(cookies=cookies) as c:
                r = c.get(url, headers={"Accept": "text/html"}, follow_redirects=True)
        assert r.status_code < 500, f"{path}: {r.status_code}"
        text = r.content.decode("utf-8", errors="replace")
        leaks += [f"{path} ({r.url.path}): {name!r}" for name in foreign if name in text]
    assert not leaks, "\n".join(leaks)
