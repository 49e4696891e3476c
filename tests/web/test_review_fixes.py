"""Findings of the issue 9 review on the web pages, each pinned by a test: customers kept out
of the office order pages (no other customer's name in a filter), internal review notes for
the office only, CSRF refused before a body is read and bodies capped at the edge, cookies
``Secure`` by setting, the order types a customer may ask for, and one download header set."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.documents.service import upsert
from cloud.documents.storage import DocumentStore
from cloud.entrypoints.app import create_app
from cloud.fleet.service import create_vehicle
from cloud.intake.schemas import RequestedOrderType
from cloud.migrations import upgrade
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.service import change_status, get_order
from cloud.settings import Settings
from cloud.tenancy.models import User
from cloud.tenancy.service import issue_token
from tests.web.conftest import PASSWORD, TICKET_PDF, Shop, build_shop

pytestmark = pytest.mark.integration

OTHER_NAME = "Hovenier Jansen"
"""Customer B of the shop (``build_shop``): customer A's user and the driver never see it."""
OTHER_NUMBER = "(1002)"
REVIEW_NOTE = "interne notitie: prijs nakijken"


class World:
    def __init__(self, app: Any, shop: Shop, factory: sessionmaker[Session], tmp: Path) -> None:
        self.app = app
        self.shop = shop
        self.factory = factory
        self.tmp = tmp
        self.document_id = 0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("webfixes")
    url = f"sqlite:///{(tmp / 'oms.db').as_posix()}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as s:
        shop = build_shop(s)
        driver = s.scalars(select(User).where(User.email == shop.emails["driver"])).one()
        truck = create_vehicle(s, tenant_id=shop.tenant_id, plate="BX-100-T")
        truck.driver_user_id = driver.id
        order = get_order(s, tenant_id=shop.tenant_id, order_id=shop.order_a)
        order.vehicle_id = truck.id
        order.needs_review = True
        order.review_reasons = [REVIEW_NOTE]
        s.flush()
        change_status(s, order=order, to=OrderStatus.PLANNED)
        sha = DocumentStore(tmp / "documents").put(TICKET_PDF)
        doc = upsert(
            s,
            tenant_id=shop.tenant_id,
            sha256=sha,
            kind="ticket",
            filename="weegbon été 2026.pdf",
            content_type="application/pdf",
            size=len(TICKET_PDF),
            order_id=shop.order_a,
            stored=True,
        )
        document_id = doc.id
    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp), factory)
    w = World(app, shop, factory, tmp)
    w.document_id = document_id
    yield w


def client(app: Any, base_url: str = "https://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False)


def logged_in(app: Any, email: str, base_url: str = "https://testserver") -> TestClient:
    c = client(app, base_url)
    c.get("/login")
    token = c.cookies["oms_csrf"]
    answer = c.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return c


# -- H1: customers stay out of the office order pages -----------------------------------------


def test_a_customer_is_sent_from_the_office_orders_to_the_portal(world: World) -> None:
    shop = world.shop
    customer = logged_in(world.app, shop.emails["customer_a"])
    listed = customer.get("/orders?status=created")
    assert listed.status_code == 303 and listed.headers["location"] == "/portal"
    one = customer.get(f"/orders/{shop.order_a}")
    assert one.status_code == 303
    assert one.headers["location"] == f"/portal/orders/{shop.order_a}"
    # Another customer's order: 404, like one that does not exist (the portal's too).
    assert customer.get(f"/orders/{shop.order_b}").status_code == 404
    assert customer.get(f"/portal/orders/{shop.order_b}").status_code == 404
    for path in ("/orders", f"/orders/{shop.order_a}", f"/orders/{shop.order_b}"):
        page = customer.get(path, follow_redirects=True)
        assert OTHER_NAME not in page.text and OTHER_NUMBER not in page.text, path
        assert "1002" not in page.text.replace(str(shop.order_b), ""), path


def test_a_driver_sees_no_customer_filter(world: World) -> None:
    driver = logged_in(world.app, world.shop.emails["driver"])
    page = driver.get("/orders")
    assert page.status_code == 200
    assert 'name="customer_id"' not in page.text
    assert OTHER_NAME not in page.text and OTHER_NUMBER not in page.text
    # The driver's own job is listed (with its customer), nothing else.
    assert "Bouwbedrijf De Vries" in page.text
    assert page.text.count("data-number=") == 1


def test_the_office_keeps_the_customer_filter(world: World) -> None:
    planner = logged_in(world.app, world.shop.emails["planner"])
    page = planner.get("/orders")
    assert 'name="customer_id"' in page.text and f"{OTHER_NAME} {OTHER_NUMBER}" in page.text


# -- M7: review notes are the office's --------------------------------------------------------


def test_review_notes_only_for_the_office(world: World) -> None:
    shop = world.shop
    driver = logged_in(world.app, shop.emails["driver"])
    for path in ("/orders", f"/orders/{shop.order_a}"):
        page = driver.get(path)
        assert page.status_code == 200, path
        assert REVIEW_NOTE not in page.text, path
    planner = logged_in(world.app, shop.emails["planner"])
    for path in ("/orders", f"/orders/{shop.order_a}"):
        assert REVIEW_NOTE in planner.get(path).text, path
    customer = logged_in(world.app, shop.emails["customer_a"])
    for path in ("/portal", f"/portal/orders/{shop.order_a}"):
        assert REVIEW_NOTE not in customer.get(path).text, path


# -- M2: CSRF before the body, bodies capped --------------------------------------------------


def test_a_post_without_the_csrf_cookie_is_refused_before_the_body_is_read(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    read: list[str] = []
    original = Request._get_form

    async def spy(self: Request, **kw: Any) -> Any:
        read.append(self.url.path)
        return await original(self, **kw)

    monkeypatch.setattr(Request, "_get_form", spy)
    files = {"file": ("x.txt", b"x" * 1000, "text/plain")}
    for path in ("/login", "/portal/orders/new", "/masterdata/import"):
        c = client(world.app)  # no cookie (a refusal sets one)
        answer = c.post(path, data={"email": "a@b.example", "csrf_token": "x" * 43}, files=files)
        assert answer.status_code == 403, (path, answer.status_code)
        assert "text/html" in answer.headers["content-type"]
    assert read == []
    # With the cookie, the form is read (and the token compared).
    c.get("/login")
    answer = c.post("/login", data={"email": "a@b.example", "csrf_token": "x" * 43})
    assert answer.status_code == 403 and set(read) == {"/login"}


def test_a_huge_form_is_refused_at_once(world: World) -> None:
    c = client(world.app)
    big = {"file": ("big.bin", b"x" * (7 * 2**20), "application/octet-stream")}
    started = time.perf_counter()
    answer = c.post("/login", files=big)
    took = time.perf_counter() - started
    assert answer.status_code in (403, 413), answer.status_code
    assert answer.status_code == 413  # the edge refuses it before the page sees it
    assert set(answer.json()) == {"error", "detail"}
    assert answer.json()["error"] == "RequestBodyTooLarge"
    assert took < 2, took
    # With the CSRF cookie, and streamed without a length: counted while it comes in.
    c.get("/login")
    chunks = iter([b"x" * 2**20] * 7)
    answer = c.post(
        "/login",
        content=chunks,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413 and answer.json()["error"] == "RequestBodyTooLarge"


def test_a_huge_webhook_body_is_refused(world: World) -> None:
    c = client(world.app)
    answer = c.post(
        "/api/v1/intake/webshop/acme",
        content=b"x" * 30_000_000,
        headers={"content-type": "text/plain"},
    )
    assert answer.status_code == 413 and answer.json()["error"] == "RequestBodyTooLarge"
    chunks = iter([b"x" * 2**20] * 30)
    answer = c.post(
        "/api/v1/intake/webshop/acme", content=chunks, headers={"content-type": "text/plain"}
    )
    assert answer.status_code == 413 and answer.json()["error"] == "RequestBodyTooLarge"


def test_a_form_under_the_limit_is_not_refused_by_the_edge(world: World) -> None:
    c = client(world.app)
    c.get("/login")
    token = c.cookies["oms_csrf"]
    answer = c.post(
        "/login",
        data={"email": "nobody@acme.example", "password": "x" * 10, "csrf_token": token},
    )
    assert answer.status_code == 401


# -- L10: Secure cookies by setting -----------------------------------------------------------


def _set_cookies(response: Any) -> dict[str, str]:
    return {value.split("=", 1)[0]: value for value in response.headers.get_list("set-cookie")}


@pytest.mark.parametrize("secure", [True, False])
def test_cookies_follow_the_secure_setting(world: World, secure: bool) -> None:
    url = f"sqlite:///{(world.tmp / 'oms.db').as_posix()}"
    settings = Settings(
        environment="test", database_url=url, data_dir=world.tmp, web_cookie_secure=secure
    )
    app = create_app(settings, world.factory)
    base = "https://testserver" if secure else "http://testserver"
    c = client(app, base)
    first = c.get("/login?lang=en")
    cookies = _set_cookies(first)
    assert {"oms_csrf", "oms_lang"} <= cookies.keys()
    login = c.post(
        "/login",
        data={
            "email": world.shop.emails["planner"],
            "password": PASSWORD,
            "csrf_token": c.cookies["oms_csrf"],
        },
    )
    assert login.status_code == 303
    cookies |= _set_cookies(login)
    c.cookies.set("oms_flash", "x")
    token = c.cookies["oms_csrf"]
    logout = c.post("/logout", headers={"x-csrf-token": token})
    cookies |= {f"{k}-out": v for k, v in _set_cookies(logout).items()}
    page = c.get("/login")
    cookies |= {f"{k}-read": v for k, v in _set_cookies(page).items()}
    assert {"oms_session", "oms_flash-out", "oms_session-out", "oms_flash-read"} <= cookies.keys()
    for name, value in cookies.items():
        assert ("; secure" in value.lower()) is secure, (name, value)


# -- L2: one list of order types, one download -----------------------------------------------


def test_the_portal_offers_every_type_a_customer_may_request(world: World) -> None:
    customer = logged_in(world.app, world.shop.emails["customer_a"])
    form = customer.get("/portal/orders/new").text
    for order_type in get_args(RequestedOrderType):
        assert f'value="{order_type}"' in form, order_type
    assert 'value="walk_in"' not in form


def test_every_download_sends_the_same_headers(world: World) -> None:
    shop = world.shop
    customer = logged_in(world.app, shop.emails["customer_a"])
    web = customer.get(f"/portal/orders/{shop.order_a}/documents/{world.document_id}")
    assert web.status_code == 200 and web.content == TICKET_PDF
    from cloud.documents.download import content_disposition  # the shared helper (L2)

    with transaction(world.factory) as s:
        user = s.scalars(select(User).where(User.email == shop.emails["customer_a"])).one()
        bearer, _ = issue_token(s, user_id=user.id, ttl=timedelta(hours=1))
    api = client(world.app)
    headers = {"Authorization": f"Bearer {bearer}"}
    answers = [
        web,
        api.get(f"/api/v1/documents/{world.document_id}/content", headers=headers),
        api.get(
            f"/api/v1/portal/orders/{shop.order_a}/documents/{world.document_id}",
            headers=headers,
        ),
    ]
    expected = content_disposition("weegbon été 2026.pdf")
    assert expected.startswith('attachment; filename="weegbon ete 2026.pdf"')
    assert "filename*=UTF-8''weegbon%20%C3%A9t%C3%A9%202026.pdf" in expected
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-disposition"] == expected
        assert answer.headers["cache-control"] == "private, no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["content-security-policy"] == "default-src 'none'; sandbox"
        assert answer.headers["content-type"] == "application/pdf"
