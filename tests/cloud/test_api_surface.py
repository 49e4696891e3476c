"""The API's outer surface: docs without a CDN and off in production, security headers, JSON
body limits, NUL characters refused at the edge, and the capped device status streams."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from cloud.api.routers import devices as devices_router
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import add_device
from cloud.entrypoints.app import create_app
from cloud.migrations import upgrade
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order
from cloud.settings import Settings
from cloud.tenancy.service import create_user, issue_token
from tests.support.factories import World, create_world
from tests.support.services import free_port, wait_port

pytestmark = pytest.mark.integration

TEMPLATES = Path(__file__).parents[2] / "cloud" / "api" / "templates"
PROD_KEY = "a-production-secret-for-tests-only"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def world(factory: sessionmaker[Session]) -> World:
    with transaction(factory) as s:
        return create_world(s)


@pytest.fixture
def client(factory: sessionmaker[Session], db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(environment="test", database_url=db_url), factory)) as c:
        yield c


# -- API docs ---------------------------------------------------------------------------------


def _docs_client(tmp_path: Path, **settings: Any) -> TestClient:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    return TestClient(create_app(Settings(database_url=url, **settings)))


def test_docs_are_served_from_the_package_without_inline_script(tmp_path: Path) -> None:
    c = _docs_client(tmp_path, environment="development")
    r = c.get("/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    page = r.text
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(s.startswith("/") for s in sources), sources  # no CDN
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)  # no inline script
    for s in sources:
        asset = c.get(s)
        assert asset.status_code == 200 and len(asset.content) > 100, s
    assert c.get("/api/docs/assets/index.html").status_code == 404
    assert c.get("/api/openapi.json").json()["info"]["title"] == "OMS"


@pytest.mark.parametrize(
    ("settings", "served"),
    [
        ({"environment": "production"}, False),
        ({"environment": "production", "api_docs": True}, True),
        ({"environment": "test", "api_docs": False}, False),
    ],
)
def test_docs_are_off_in_production_unless_asked(
    tmp_path: Path, settings: dict[str, Any], served: bool
) -> None:
    c = _docs_client(tmp_path, secret_key=PROD_KEY, **settings)
    for path in ("/api/docs", "/api/openapi.json"):
        r = c.get(path)
        assert r.status_code == (200 if served else 404), path
        if not served:
            assert set(r.json()) == {"error", "detail"}
    assert c.app.openapi()["paths"]  # type: ignore[attr-defined]  # in-process use still works


# -- security headers -------------------------------------------------------------------------


def test_templates_and_static_pages_have_no_inline_script() -> None:
    pages = [*TEMPLATES.glob("*.html"), *(TEMPLATES.parents[1] / "web").rglob("*.html")]
    assert len(pages) > 10
    for page in pages:
        html = page.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), page.name
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), page.name
        assert "javascript:" not in html.lower(), page.name


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path, status in (
        ("/", 200),
        ("/assets/app.js", 200),
        ("/api/v1/orders", 401),
        ("/healthz", 200),
        ("/no/such/page", 404),
    ):
        r = client.get(path)
        assert r.status_code == status, path
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
    html = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in html and "unsafe-inline" not in html
    assert (
        client.get("/api/v1/orders")
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )


# -- JSON body limits -------------------------------------------------------------------------


def _keys(n: int) -> bytes:
    return ("{" + ",".join(f'"k{i}":1' for i in range(n)) + "}").encode()


def test_json_body_size_is_capped_while_reading(client: TestClient, world: World) -> None:
    limit = Settings().max_json_body_bytes
    big = b'{"email": "' + b"a" * limit + b'", "password": "x"}'
    # A declared length is refused before reading.
    r = client.post("/api/v1/auth/token", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooLarge"
    # Chunked (no Content-Length): counted as it streams in.
    chunks = iter([big[i : i + 65536] for i in range(0, len(big), 65536)])
    r = client.post("/api/v1/orders", content=chunks, headers=auth(world.token))
    assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooLarge"
    # Just under the limit is parsed as usual (and refused by the route, not the middleware).
    r = client.post(
        "/api/v1/orders", content=b"[" + b"1," * 4000 + b"1]", headers=auth(world.token)
    )
    assert r.status_code == 422 and r.json()["error"] == "ValidationError"


def test_json_bodies_with_too_many_keys_are_refused_quickly(
    factory: sessionmaker[Session], db_url: str, world: World
) -> None:
    # A body size limit large enough that the key count is what refuses it.
    settings = Settings(environment="test", database_url=db_url, max_json_body_bytes=8_000_000)
    with TestClient(create_app(settings, factory)) as c:
        body = _keys(300_000)
        t0 = time.perf_counter()
        r = c.post("/api/v1/orders", content=body, headers=auth(world.token))
        took = time.perf_counter() - t0
        assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooComplex", r.text[:200]
        assert took < 2, took  # 11 s before the limit
        r = c.post("/api/v1/orders", json=[[0] * 6000, [0] * 6000], headers=auth(world.token))
        assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooComplex"
        deep = b"[" * 100_000 + b"]" * 100_000
        r = c.post("/api/v1/orders", content=deep, headers=auth(world.token))
        assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooComplex"


def test_uploads_are_not_held_to_the_json_limits(
    client: TestClient, factory: sessionmaker[Session], world: World
) -> None:
    with transaction(factory) as s:
        _, password = add_device(s, tenant_id=world.tenant_id, device_id="truck-up", kind="truck",
                                 vehicle_id=world.vehicle_id)  # fmt: skip
    pdf = b"%PDF-1.4\n" + b"0" * 2_000_000 + b"\n%%EOF\n"
    digest = hashlib.sha256(pdf).hexdigest()
    r = client.put(
        f"/api/v1/device/documents/{digest}?kind=photo&filename=big.pdf",
        content=pdf,
        headers={"content-type": "application/pdf"},
        auth=("truck-up", password),
    )
    assert r.status_code != 413 and r.json().get("error") not in {
        "RequestBodyTooLarge", "RequestBodyTooComplex"}, r.text  # fmt: skip
    r = client.post(
        "/api/v1/orders/1/documents",
        files={"file": ("big.pdf", pdf, "application/pdf")},
        headers=auth(world.token),
    )
    assert r.status_code != 413, r.text


def test_other_bodies_are_capped_but_document_uploads_keep_their_own_limit(
    client: TestClient, factory: sessionmaker[Session], world: World
) -> None:
    limit = Settings().max_form_body_bytes
    # Above the form limit: refused at the edge (declared, or counted while streaming).
    big = b"x" * (limit + 1)
    for content_type in ("multipart/form-data; boundary=x", "text/csv", "text/plain"):
        r = client.post(
            "/api/v1/imports/customers",
            content=big,
            headers={**auth(world.token), "content-type": content_type},
        )
        assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooLarge", r.text
    chunks = iter([big[i : i + 65536] for i in range(0, len(big), 65536)])
    r = client.post(
        "/api/v1/imports/customers",
        content=chunks,
        headers={**auth(world.token), "content-type": "text/csv"},
    )
    assert r.status_code == 413 and r.json()["error"] == "RequestBodyTooLarge", r.text
    # A document above the form limit and within the document limit is taken.
    with transaction(factory) as s:
        _, password = add_device(s, tenant_id=world.tenant_id, device_id="truck-big", kind="truck",
                                 vehicle_id=world.vehicle_id)  # fmt: skip
        order_id = create_order(
            s,
            tenant_id=world.tenant_id,
            data=OrderCreate(customer_id=world.customer_id, order_type="container_place"),
            source="manual",
        ).id
    pdf = b"%PDF-1.4\n" + b"0" * (limit + 1_000_000) + b"\n%%EOF\n"
    digest = hashlib.sha256(pdf).hexdigest()
    r = client.put(
        f"/api/v1/device/documents/{digest}?kind=other&filename=big.pdf",
        content=pdf,
        headers={"content-type": "application/pdf"},
        auth=("truck-big", password),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/orders/{order_id}/documents",
        files={"file": ("big.pdf", pdf, "application/pdf")},
        headers=auth(world.token),
    )
    assert r.status_code == 201, r.text
    # Beyond the document limit: the route's own refusal.
    r = client.put(
        f"/api/v1/device/documents/{digest}?kind=other&filename=big.pdf",
        content=b"0" * (21 * 2**20),
        headers={"content-type": "application/pdf"},
        auth=("truck-big", password),
    )
    assert r.status_code == 413, r.text


# -- NUL anywhere -----------------------------------------------------------------------------


def _nul_loc(r: httpx.Response) -> list[Any]:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "ValidationError" and "NUL" in body["detail"][0]["msg"]
    return list(body["detail"][0]["loc"])


def test_nul_is_refused_before_any_route_or_database(client: TestClient, world: World) -> None:
    # Unauthenticated, at login: a 500 from PostgreSQL before.
    r = client.post("/api/v1/auth/token", json={"email": "a\x00@acme.example", "password": "x"})
    assert _nul_loc(r) == ["body", "email"]
    r = client.post(
        "/api/v1/auth/token", json={"email": "planner@acme.example", "password": "\x00"}
    )
    assert _nul_loc(r) == ["body", "password"]
    r = client.post("/api/v1/orders", json={"notes": {"k\x00": 1}}, headers=auth(world.token))
    assert _nul_loc(r) == ["body", "notes", "k\\u0000"]
    r = client.post("/api/v1/orders", json=[{"a": ["x", "y\x00"]}], headers=auth(world.token))
    assert _nul_loc(r) == ["body", 0, "a", 1]
    # UTF-16 JSON is parsed by json.loads too, so it is checked too.
    utf16 = json.dumps({"email": "a\x00b@x.nl", "password": "x"}).encode("utf-16")
    r = client.post(
        "/api/v1/auth/token", content=utf16, headers={"content-type": "application/json"}
    )
    assert _nul_loc(r) == ["body", "email"]
    assert _nul_loc(client.get("/api/v1/orders?status=ex%00", headers=auth(world.token))) == [
        "query", "status"]  # fmt: skip
    assert _nul_loc(client.get("/api/v1/devices/wb%001", headers=auth(world.token))) == ["path"]
    assert _nul_loc(client.get("/api/v1/orders/%00")) == ["path"]
    # An escaped backslash followed by "u0000" is not a NUL.
    r = client.post("/api/v1/auth/token", json={"email": "a\\u0000@x.nl", "password": "x"})
    assert r.status_code == 401
    r = client.post(
        "/api/v1/auth/token", json={"email": "planner@acme.example", "password": "secret-pw"}
    )
    assert r.status_code == 200  # the body the middleware read reaches the route intact


# -- the device status stream -----------------------------------------------------------------


class _Server:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        assert wait_port(self.port)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def stream_world(tmp_path: Path) -> Iterator[tuple[Any, sessionmaker[Session], World, list[str]]]:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        w = create_world(s, slug="sse", device_id="wb-sse")
        others = []
        for i in range(3):
            u = create_user(s, tenant_id=w.tenant_id, email=f"p{i}@sse.example", name="P",
                            password="pw-123456", roles=["planner"])  # fmt: skip
            others.append(issue_token(s, user_id=u.id, ttl=timedelta(hours=1))[0])
    settings = Settings(
        environment="test", database_url=url, sse_max_streams_per_user=2,
        sse_max_streams_per_tenant=3,
    )  # fmt: skip
    yield create_app(settings, factory), factory, w, others
    engine.dispose()


def _first_event(r: httpx.Response) -> str:
    """The next event's name. One line iterator per response, kept: dropping it would close
    the response, and with it the stream."""
    lines: Iterator[str] | None = getattr(r, "test_lines", None)
    if lines is None:
        lines = r.test_lines = r.iter_lines()  # type: ignore[attr-defined]
    for line in lines:
        if line.startswith("event: "):
            return line[7:]
    raise AssertionError("stream ended without an event")


def _wait_open(app: Any, n: int) -> None:
    deadline = time.monotonic() + 10
    while app.state.stream_slots.open() != n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.state.stream_slots.open() == n


def test_streams_are_capped_and_slots_come_back_however_a_stream_ends(
    stream_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _factory, w, others = stream_world
    with _Server(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        # The token is no longer taken from the URL (it ends up in access logs).
        r = http.get(f"/api/v1/devices/stream?access_token={w.token}")
        assert r.status_code == 401 and r.json()["error"] == "StreamTokenMissing"
        url = "/api/v1/devices/stream?interval=0.5"
        with (
            http.stream("GET", url, headers=auth(w.token)) as s1,
            http.stream("GET", url, headers=auth(w.token)) as s2,
        ):
            assert _first_event(s1) == _first_event(s2) == "devices"
            r = http.get(url, headers=auth(w.token))  # a third for this user
            assert r.status_code == 429 and r.json()["error"] == "TooManyStreams"
            assert "per user" in r.json()["detail"]
            with http.stream("GET", url, headers=auth(others[0])) as s3:
                assert _first_event(s3) == "devices"
                r = http.get(url, headers=auth(others[1]))  # a fourth for this tenant
                assert r.status_code == 429 and "per tenant" in r.json()["detail"]
                _wait_open(app, 3)
        # The clients went away: every slot comes back.
        _wait_open(app, 0)

        # Token revoked (logout): the stream ends, and its slot comes back.
        with http.stream("GET", url, headers=auth(others[1])) as s:
            assert _first_event(s) == "devices"
            _wait_open(app, 1)
            assert http.delete("/api/v1/auth/token", headers=auth(others[1])).status_code == 204
            assert _first_event(s) == "error"
            _wait_open(app, 0)

        # The poll raises: the slot comes back too.
        def broken(*_a: object, **_k: object) -> None:
            raise RuntimeError("database gone")

        monkeypatch.setattr(devices_router, "_poll", broken)
        with pytest.raises(httpx.HTTPError), http.stream("GET", url, headers=auth(others[2])) as s:
            for _ in s.iter_lines():
                pass
        _wait_open(app, 0)


def test_streams_poll_in_threads_of_their_own(
    stream_world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """150 streams polling in the shared threadpool took the threads and connections that
    every other request needed. However many streams are open, their polls run at most
    ``POLL_THREADS`` at a time, in threads of their own: with every poll stuck and more
    streams than the shared pool has threads, an ordinary request is still answered."""
    app, _factory, w, _others = stream_world
    app.state.stream_slots.per_user = app.state.stream_slots.per_tenant = 6
    shared_threads = 3  # fewer than the streams: polls in the shared pool would take them all
    real_poll = devices_router._poll
    lock = threading.Lock()
    running = [0, 0]  # now, most
    stuck, release = threading.Event(), threading.Event()

    def stuck_poll(*args: Any, **kwargs: Any) -> Any:
        with lock:
            running[0] += 1
            running[1] = max(running)
        try:
            if stuck.is_set():
                release.wait(20)
            return real_poll(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    async def small_shared_pool(scope: Any, receive: Any, send: Any) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = shared_threads
        await app(scope, receive, send)

    monkeypatch.setattr(devices_router, "_poll", stuck_poll)
    url = "/api/v1/devices/stream?interval=0.5"
    with _Server(small_shared_pool) as base, httpx.Client(base_url=base, timeout=20) as http:
        streams = [http.stream("GET", url, headers=auth(w.token)) for _ in range(6)]
        opened = [s.__enter__() for s in streams]
        try:
            for r in opened:
                assert _first_event(r) == "devices"
            stuck.set()
            deadline = time.monotonic() + 10
            while running[0] < devices_router.POLL_THREADS and time.monotonic() < deadline:
                time.sleep(0.05)
            assert running[0] == devices_router.POLL_THREADS, running
            me = http.get("/api/v1/me", headers=auth(w.token), timeout=5)
            assert me.status_code == 200
        finally:
            release.set()
            for s in streams:
                s.__exit__(None, None, None)
    assert running[1] == devices_router.POLL_THREADS, running


def test_stream_logs_say_who(stream_world: Any) -> None:
    app, _factory, w, _others = stream_world
    with (
        _Server(app) as base,
        httpx.Client(base_url=base, timeout=10) as http,
        capture_logs() as logs,
    ):
        with http.stream("GET", "/api/v1/devices/stream", headers=auth(w.token)) as s:
            assert _first_event(s) == "devices"
        _wait_open(app, 0)
    opened = next(e for e in logs if e["event"] == "api.devices.stream_opened")
    assert opened["user_id"] == w.user_id and opened["tenant_id"] == w.tenant_id
