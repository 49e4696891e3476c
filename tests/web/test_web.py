"""The web package without a browser: the page list, CSRF, language catalogues, number and
date formats, tenant isolation of pages, htmx fragments, and the asset installer's checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.entrypoints.app import create_app
from cloud.migrations import upgrade
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.service import change_status, get_order
from cloud.settings import Settings
from cloud.tenancy.service import create_tenant, create_user
from cloud.web import VendorAssetsMissing, assets, i18n, install
from cloud.web.navigation import PAGES
from tests.web.conftest import PASSWORD, Shop, build_shop

pytestmark = pytest.mark.integration
TEMPLATES = Path(__file__).resolve().parents[2] / "cloud" / "web" / "templates"


@pytest.fixture(scope="module")
def app_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Shop]]:
    tmp = tmp_path_factory.mktemp("webunit")
    url = f"sqlite:///{(tmp / 'oms.db').as_posix()}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as s:
        shop = build_shop(s)
        other = create_tenant(s, slug="other", name="Other B.V.")
        create_user(
            s,
            tenant_id=other.id,
            email="owner@other.example",
            name="Other Owner",
            password=PASSWORD,
            roles=["owner"],
        )
    with transaction(factory) as s:
        order = get_order(s, tenant_id=shop.tenant_id, order_id=shop.order_a)
        change_status(s, order=order, to=OrderStatus.PLANNED)
        change_status(s, order=order, to=OrderStatus.EXECUTED)
    yield create_app(Settings(environment="test", database_url=url, data_dir=tmp), factory), shop


def client(app: Any) -> TestClient:
    return TestClient(app, base_url="https://testserver", follow_redirects=False)


def csrf(c: TestClient) -> str:
    if "oms_csrf" not in c.cookies:
        c.get("/login")
    return c.cookies["oms_csrf"]


def logged_in(app: Any, email: str) -> TestClient:
    c = client(app)
    answer = c.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf(c)})
    assert answer.status_code == 303, answer.text
    return c


def routes(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        contexts = (
            route.effective_route_contexts()
            if hasattr(route, "effective_route_contexts")
            else [route]
        )
        for ctx in contexts:
            if getattr(ctx, "methods", None) and getattr(ctx, "include_in_schema", True) is False:
                out |= {(m, ctx.path) for m in ctx.methods if m != "HEAD"}
    return out


def test_every_page_is_in_the_page_list(app_shop: tuple[Any, Shop]) -> None:
    app, _ = app_shop
    pages = {(p.method, p.path) for p in PAGES}
    outside = {"/healthz", "/api/docs", "/api/docs/assets/{name}", "/api/openapi.json"}
    web = {r for r in routes(app) if r[1] not in outside}
    assert web - pages == set(), "pages missing from cloud.web.navigation.PAGES"
    assert pages - web == set(), "PAGES lists routes that do not exist"


def test_a_form_post_needs_the_csrf_token(app_shop: tuple[Any, Shop]) -> None:
    app, shop = app_shop
    c = client(app)
    token = csrf(c)
    body = {"email": shop.emails["planner"], "password": PASSWORD}
    assert c.post("/login", data=body).status_code == 403
    assert c.post("/login", data={**body, "csrf_token": "x" * 43}).status_code == 403
    evil = {"origin": "https://evil.example"}
    refused = c.post("/login", data={**body, "csrf_token": token}, headers=evil)
    assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
    ok = c.post("/login", data={**body, "csrf_token": token})
    assert ok.status_code == 303 and ok.headers["location"] == "/orders"
    # htmx sends the token as a header
    c.cookies.set("oms_csrf", token)
    assert c.post("/logout", headers={"x-csrf-token": token}).status_code == 303


def test_pages_need_a_login_and_the_right_role(app_shop: tuple[Any, Shop]) -> None:
    app, shop = app_shop
    anonymous = client(app)
    answer = anonymous.get("/orders?status=created")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Forders%3Fstatus%3Dcreated"
    htmx = anonymous.get("/orders/form/sites", headers={"hx-request": "true"})
    assert htmx.headers["hx-redirect"].startswith("/login")
    driver = logged_in(app, shop.emails["driver"])
    assert driver.get("/orders/new").status_code == 403
    assert driver.get("/users").status_code == 403
    customer = logged_in(app, shop.emails["customer_a"])
    assert customer.get("/").headers["location"] == "/portal"
    assert customer.get("/portal?status=").status_code == 200  # "all" in the filter form
    assert customer.get("/portal?status=planned").status_code == 200
    assert customer.get("/portal?status=nonsense").status_code == 422
    assert customer.get(f"/orders/{shop.order_b}").status_code == 404  # scoped like the API
    assert customer.get(f"/orders/{shop.order_a}").headers["location"] == (
        f"/portal/orders/{shop.order_a}"
    )


def test_another_tenants_order_is_not_found(app_shop: tuple[Any, Shop]) -> None:
    app, shop = app_shop
    other = logged_in(app, "owner@other.example")
    for path in (
        f"/orders/{shop.order_a}",
        f"/orders/{shop.order_a}/edit",
    ):
        answer = other.get(path)
        assert answer.status_code == 404, path
        assert "Niet gevonden" in answer.text
    form = {"reason": "weg ermee", "csrf_token": csrf(other)}
    assert other.post(f"/orders/{shop.order_a}/cancel", data=form).status_code == 404
    sites = other.get(f"/orders/form/sites?customer_id={shop.customer_a}")
    assert sites.status_code == 200 and "Bouwplaats" not in sites.text


def test_an_executed_order_is_corrected_by_an_administrator_with_a_reason(
    app_shop: tuple[Any, Shop],
) -> None:
    app, shop = app_shop
    path = f"/orders/{shop.order_a}/edit"
    planner = logged_in(app, shop.emails["planner"])
    form = planner.get(path)
    assert form.status_code == 200
    fields = dict(re.findall(r'<input name="(\w+)"[^>]*value="([^"]*)"', form.text))
    for name, options in re.findall(r'<select name="(\w+)".*?>(.*?)</select>', form.text, re.S):
        chosen = re.search(r'value="([^"]*)" selected', options)
        fields[name] = chosen.group(1) if chosen else ""
    fields.update({"reference": "CORR-1", "csrf_token": csrf(planner)})
    fields.pop("reason", None)
    refused = planner.post(path, data=fields)
    assert refused.status_code == 422  # a planner may not correct an executed order
    admin = logged_in(app, shop.emails["administrator"])
    fields["csrf_token"] = csrf(admin)
    without_reason = admin.post(path, data=fields)
    assert without_reason.status_code == 422
    assert 'id="reason-error"' in without_reason.text
    done = admin.post(path, data={**fields, "reason": "weegbon nagekeken"})
    assert done.status_code == 303, done.text
    page = admin.get(f"/orders/{shop.order_a}").text
    assert "CORR-1" in page and "weegbon nagekeken" in page


def test_htmx_fragments_offer_what_fits(app_shop: tuple[Any, Shop]) -> None:
    app, shop = app_shop
    planner = logged_in(app, shop.emails["planner"])
    sites = planner.get(f"/orders/form/sites?customer_id={shop.customer_a}").text
    assert "Bouwplaats Centrum" in sites and "Kwekerij" not in sites
    streams = planner.get(
        "/orders/form/waste-streams",
        params={
            "customer_id": shop.customer_a,
            "material_id": shop.material,
            "requested_date": "2026-12-14",
        },
    ).text
    assert shop.waste_stream in streams
    before = planner.get(
        "/orders/form/waste-streams",
        params={"customer_id": shop.customer_a, "requested_date": "2025-12-14"},
    ).text
    assert shop.waste_stream not in before  # not valid yet on that date
    assert (
        shop.waste_stream
        not in planner.get(f"/orders/form/waste-streams?customer_id={shop.customer_b}").text
    )


def test_pages_send_security_headers(app_shop: tuple[Any, Shop]) -> None:
    app, _ = app_shop
    answer = client(app).get("/login")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    assert "<script>" not in answer.text  # scripts are files
    assert re.search(r"\son[a-z]+\s*=", answer.text) is None  # no inline event handlers
    assert "hx-on" not in answer.text


def test_catalogues_have_the_same_keys_and_every_used_key() -> None:
    nl, en = i18n.catalogue("nl"), i18n.catalogue("en")
    assert set(nl) == set(en)
    used = set()
    for path in TEMPLATES.rglob("*.html"):
        keys = re.findall(r"\bt\('([a-z_.]+)'", path.read_text(encoding="utf-8"))
        used |= {k for k in keys if not k.endswith(".")}  # a prefix: t('status.' ~ value)
    for path in (TEMPLATES.parent).glob("*.py"):
        used |= {f"flash.{k}" for k in re.findall(r'flash\([^\n]*"(\w+)"\)', path.read_text())}
    assert "flash.created" in used
    from cloud.web import forms

    used |= set(forms._MESSAGES.values()) | set(forms.MESSAGE_OF.values())
    used |= {"form.error.date_for_window", "form.error.time"}
    assert used - set(nl) == set()


@pytest.mark.parametrize(
    ("value", "lang", "places", "expected"),
    [
        (Decimal("1234.500"), "nl", None, "1.234,5"),
        (Decimal("1234.500"), "en", None, "1,234.5"),
        (Decimal("18240"), "nl", None, "18.240"),
        (Decimal("-1234567.25"), "nl", 2, "-1.234.567,25"),
        (Decimal("0.0004"), "nl", None, "0,0004"),
        (Decimal("1E+3"), "nl", None, "1.000"),
    ],
)
def test_decimals_in_dutch_and_english(
    value: Decimal, lang: str, places: int | None, expected: str
) -> None:
    assert i18n.format_decimal(value, lang, places) == expected


def test_dates_in_dutch_and_english() -> None:
    from datetime import UTC, date, datetime

    assert i18n.format_date(date(2026, 12, 6), "nl") == "06-12-2026"
    assert i18n.format_date(date(2026, 12, 6), "en") == "2026-12-06"
    at = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # already the 7th in Amsterdam
    assert i18n.format_datetime(at, "nl") == "07-12-2026 00:30"
    assert i18n.translate("en", "no.such.key") == "no.such.key"


def test_production_refuses_to_start_without_the_vendor_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from fastapi import FastAPI

    monkeypatch.setattr(assets, "VENDOR", tmp_path / "vendor")
    monkeypatch.setattr(assets, "missing", lambda vendor=tmp_path / "vendor": ["htmx.min.js"])
    app = FastAPI()
    app.state.settings = Settings(environment="production", secret_key="s" * 40)
    with pytest.raises(VendorAssetsMissing, match=r"htmx\.min\.js"):
        install(app)


def test_the_installer_refuses_a_tarball_that_is_not_the_locked_one(tmp_path: Path) -> None:
    pkg = assets.locked()["htmx.org"]
    tarball = tmp_path / f"htmx.org-{pkg.version}.tgz"
    tarball.write_bytes(b"not the real package")
    with pytest.raises(assets.AssetError, match="does not match the lock"):
        assets.fetch(pkg, tmp_path)
    assert not tarball.exists()  # never used again


def test_the_vendored_files_are_the_locked_package(vendor_assets: None) -> None:
    assert assets.missing() == [], "run python -m cloud.web.assets install"
    pins = assets.locked()
    assert pins["htmx.org"].version.startswith("2.")
