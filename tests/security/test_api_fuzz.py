"""Property-based fuzzing of the whole OpenAPI document with schemathesis, against the real
``oms serve`` process in production mode on PostgreSQL (issue 8, "keep them closed").

The property: whatever a client sends, the answer is never a 5xx (nor a dropped connection),
and every error body is ``{"error", "detail"}``. Valid (positive) and invalid (negative) cases
for every operation, in rounds, as the owner, the planner, a customer and a driver of one
tenant (devices with their own credentials), until the time budget is spent:
``make test`` runs a short box (``OMS_FUZZ_SECONDS``, default 75 s), ``make test-long`` a long
one (``OMS_FUZZ_LONG_SECONDS``, default 900 s). The figures are printed and written to
``fuzz-figures.json`` in the test's tmp dir.

Generated path ids almost never name a row, so every other valid case is sent with the ids of
real rows of the tenant instead (an order, a device and a document made for the fuzzer, so
what it dispatches, rotates or revokes is its own), and the handlers behind the 404 are
reached too."""

from __future__ import annotations

import json
import os
import secrets
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode
from sqlalchemy import select

from cloud.db import transaction
from cloud.devices.service import add_device
from cloud.documents.models import Document
from cloud.documents.storage import DocumentStore
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
from tests.security.conftest import SecurityApi
from tests.security.conftest import _tenant as make_tenant

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

ROLES = ("owner", "planner", "customer", "driver")
REVOKES_ITS_TOKEN = {("DELETE", "/api/v1/auth/token")}
"""Logout: called with a token of its own each time, or it would end the fuzzing session."""
EXAMPLES_PER_ROUND = 20


@dataclass
class FuzzFigures:
    requests: int = 0
    client_side_skips: int = 0
    unsatisfiable: int = 0
    """Rounds where no case of the mode exists (negative cases of a parameterless route)."""
    """Cases the HTTP client itself refused to send (e.g. a newline in a header)."""
    malformed_http: int = 0
    """Requests the HTTP server (uvicorn/h11) refused before the app saw them, e.g. a generated
    ``Content-Length: 0rMRv`` header: plain-text 400s no route can shape."""
    by_status: Counter[int] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    """One entry per distinct failure (operation, status, error): how to reproduce it."""
    operations: int = 0
    seconds: float = 0.0
    real_rows: Counter[int] = field(default_factory=Counter)
    """Statuses of the requests sent with real path ids."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "client_side_skips": self.client_side_skips,
            "unsatisfiable": self.unsatisfiable,
            "malformed_http": self.malformed_http,
            "operations": self.operations,
            "seconds": round(self.seconds, 1),
            "with_real_path_ids": dict(sorted(self.real_rows.items())),
            "by_status": dict(sorted(self.by_status.items())),
            "failures_found": len(self.failures),
            "failures": self.failures,
        }


def _auth_for(op: Any, api: SecurityApi, role: str) -> dict[str, Any]:
    schemes = {name for req in op.definition.raw.get("security", []) for name in req}
    if any("basic" in s.lower() for s in schemes):
        return {"headers": {}, "basic": (api.a.truck_id, api.a.passwords[api.a.truck_id])}
    return {"headers": {"Authorization": f"Bearer {api.a.tokens[role]}"}}


UVICORN_BAD_REQUEST = b"Invalid HTTP request received."


def _check(case: Any, response: requests.Response, figures: FuzzFigures, curl: str) -> None:
    status = response.status_code
    figures.by_status[status] += 1
    if status == 400 and response.content == UVICORN_BAD_REQUEST:
        figures.malformed_http += 1
        return
    problem = None
    if status >= 500:
        problem = f"{status}"
    elif status >= 400:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not {"error", "detail"} <= set(body):
            problem = f"{status} without the error shape"
    if problem is not None:
        key = f"{case.operation.label} -> {problem} {response.text[:80]}"
        if key not in figures.failures:
            figures.failures[key] = curl


def _real_rows(api: SecurityApi) -> dict[str, str]:
    """Path parameter values that name rows of tenant a, made for the fuzzer."""
    a = api.a
    device_id = f"wb-fuzz-{secrets.token_hex(3)}"
    with transaction(api.factory) as s:
        order = create_order(
            s,
            tenant_id=a.tenant_id,
            data=OrderCreate(
                customer_id=a.customer_id,
                order_type="container_place",
                site_id=a.customer_site_id,
                vehicle_id=a.vehicle_id,
            ),
            source="manual",
            by_user_id=a.user_ids["planner"],
        )
        change_status(s, order=order, to=OrderStatus.PLANNED, by_user_id=a.user_ids["planner"])
        add_device(s, tenant_id=a.tenant_id, device_id=device_id, kind="weighbridge",
                   site_id=a.site_id)  # fmt: skip
        sha = s.scalar(select(Document.sha256).where(Document.id == a.document_id))
    assert sha is not None
    return {
        "order_id": str(order.id),
        "device_id": device_id,
        "document_id": str(a.document_id),
        "sha256": sha,
    }


def _call_and_check(
    case: Any,
    api: SecurityApi,
    http: requests.Session,
    auth: dict[str, Any],
    figures: FuzzFigures,
    real: dict[str, str] | None = None,
) -> None:
    """Send the case ourselves (streamed: an event stream is checked by its headers and
    closed, never read to the end); with ``real``, its path ids replaced by real rows'."""
    if real is not None and case.path_parameters:
        case.path_parameters = {k: real.get(k, v) for k, v in case.path_parameters.items()}
    else:
        real = None
    if (case.operation.method.upper(), case.operation.path) in REVOKES_ITS_TOKEN:
        auth = {"headers": {"Authorization": f"Bearer {api.fresh_token(api.a)}"}}
    try:
        kwargs = case.as_transport_kwargs(base_url=api.base_url, headers=dict(auth["headers"]))
        kwargs.pop("auth", None)
        if auth.get("basic"):
            kwargs["auth"] = auth["basic"]
        response = http.request(**kwargs, stream=True, timeout=20)
    except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL, UnicodeError):
        figures.client_side_skips += 1
        return
    except requests.exceptions.ConnectionError as exc:
        figures.requests += 1
        key = f"{case.operation.label} -> connection dropped: {exc}"[:200]
        figures.failures.setdefault(key, _curl(case, api, auth))
        return
    figures.requests += 1
    if real is not None:
        figures.real_rows[response.status_code] += 1
    try:
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            response.content  # noqa: B018 - read the body before checking it
        _check(case, response, figures, _curl(case, api, auth))
    finally:
        response.close()


def _curl(case: Any, api: SecurityApi, auth: dict[str, Any]) -> str:
    try:
        return str(case.as_curl_command(headers=auth["headers"], base_url=api.base_url))[:2000]
    except Exception as exc:  # noqa: BLE001 - only a description of the failure
        return f"{case!r} ({exc})"[:2000]


def _one_round(
    op: Any,
    mode: GenerationMode,
    *,
    api: SecurityApi,
    http: requests.Session,
    auth: dict[str, Any],
    figures: FuzzFigures,
    deadline: float,
    real: dict[str, str],
) -> None:
    sent = [0]

    @settings(
        max_examples=EXAMPLES_PER_ROUND,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        if time.monotonic() < deadline:
            sent[0] += 1
            use_real = mode == GenerationMode.POSITIVE and sent[0] % 2 == 0
            _call_and_check(case, api, http, auth, figures, real if use_real else None)

    try:
        run()
    except Unsatisfiable:
        # e.g. no invalid request exists for an operation without parameters or body
        figures.unsatisfiable += 1


def fuzz_tenant(api: SecurityApi) -> SecurityApi:
    """The API with a tenant of the fuzzer's own as ``a``: what the fuzzer changes (users it
    disables or resets, tokens that then stop working, orders it cancels) is its own, never
    the shared tenants the other security tests rely on."""
    with transaction(api.factory) as s:
        world = make_tenant(
            s, f"fuzz-{secrets.token_hex(3)}", DocumentStore(api.data_dir / "documents")
        )
    return replace(api, a=world)


def fuzz(api: SecurityApi, budget_s: float) -> FuzzFigures:
    api = fuzz_tenant(api)
    schema = schemathesis.openapi.from_dict(api.openapi)
    operations = [result.ok() for result in schema.get_all_operations()]
    figures = FuzzFigures(operations=len(operations))
    real = _real_rows(api)
    http = requests.Session()
    started = time.monotonic()
    deadline = started + budget_s
    round_no = 0
    while time.monotonic() < deadline:
        role = ROLES[round_no % len(ROLES)]
        for op in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                if time.monotonic() >= deadline:
                    break
                _one_round(
                    op,
                    mode,
                    api=api,
                    http=http,
                    auth=_auth_for(op, api, role),
                    figures=figures,
                    deadline=deadline,
                    real=real,
                )
        round_no += 1
    figures.seconds = time.monotonic() - started
    return figures


def _report(figures: FuzzFigures, api: SecurityApi, out: Path) -> str:
    data = figures.as_dict()
    out.write_text(json.dumps(data, indent=2))
    text = json.dumps(data, indent=2)
    print(f"\nfuzz figures ({out}):\n{text}")
    return text + "\n" + "\n".join(api.server_errors()[-20:])


MIN_REQUESTS_PER_S = 5
"""A floor far below the ~20/s of an idle 2-core machine: a run that sends less than this is
broken (everything skipped, or stuck on one slow call), and has proven nothing."""


def _assert_figures(figures: FuzzFigures, budget: float, report: str) -> None:
    assert figures.requests >= max(100, MIN_REQUESTS_PER_S * budget), report
    # Requests uvicorn refused as malformed HTTP never reached the app: only a few may be.
    assert figures.malformed_http <= 0.05 * figures.requests, report
    # Real path ids reached real rows: some answered 2xx.
    assert sum(n for status, n in figures.real_rows.items() if status < 300) > 0, report
    assert figures.failures == {}, report


@pytest.mark.timeout(600)
def test_fuzz_the_whole_api(security_api: SecurityApi, tmp_path: Path) -> None:
    budget = float(os.environ.get("OMS_FUZZ_SECONDS", "75"))
    figures = fuzz(security_api, budget)
    report = _report(figures, security_api, tmp_path / "fuzz-figures.json")
    _assert_figures(figures, budget, report)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fuzz_the_whole_api_long(security_api: SecurityApi, tmp_path: Path) -> None:
    budget = float(os.environ.get("OMS_FUZZ_LONG_SECONDS", "900"))
    figures = fuzz(security_api, budget)
    report = _report(figures, security_api, tmp_path / "fuzz-figures.json")
    _assert_figures(figures, budget, report)
