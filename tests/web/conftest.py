"""Browser tests of the web pages: a migrated SQLite database with two customers, their
sites, a material with an afvalstroomnummer, users of every kind and a few dozen orders; the
application served by uvicorn on a free port; Debian's Chromium driven by Playwright.

Screenshots go to the test's tmp dir and are copied to ``$OMS_SCREENS_DIR`` when that is set
(the issue's screenshot folder), so a person can look at every screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from cloud.customers.schemas import SiteCreate
from cloud.customers.service import add_site, create_customer
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.documents.service import upsert
from cloud.documents.storage import DocumentStore
from cloud.entrypoints.app import create_app
from cloud.materials.schemas import MaterialCreate, WasteStreamCreate
from cloud.materials.service import create_material, create_waste_stream
from cloud.migrations import upgrade
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order
from cloud.settings import Settings
from cloud.tenancy.service import create_tenant, create_user
from cloud.web import assets
from tests.support import services

TICKET_PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PASSWORD = "secret-pw-123"
ORDERS = 30
"""More than one page of the order list (25 a page)."""
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Shop:
    """What the test data holds, by name."""

    tenant_id: int
    customer_a: int
    customer_b: int
    site_a: int
    site_b: int
    material: int
    waste_stream: str
    order_a: int
    """An order of customer A, with a weighing ticket PDF (see ``server``)."""
    order_b: int
    """An order of customer B (customer A's user must not open it)."""
    emails: dict[str, str]


def build_shop(session: Session) -> Shop:
    tenant = create_tenant(session, slug="acme", name="Acme Afval B.V.")
    a = create_customer(session, tenant_id=tenant.id, number="1001", name="Bouwbedrijf De Vries")
    b = create_customer(session, tenant_id=tenant.id, number="1002", name="Hovenier Jansen")
    site_a = add_site(
        session,
        tenant_id=tenant.id,
        data=SiteCreate(
            name="Bouwplaats Centrum", customer_id=a.id, street="Markt 1", city="Utrecht"
        ),
    )
    site_b = add_site(
        session,
        tenant_id=tenant.id,
        data=SiteCreate(name="Kwekerij", customer_id=b.id, street="Tuinweg 5", city="Zeist"),
    )
    processor = add_site(
        session,
        tenant_id=tenant.id,
        data=SiteCreate(name="Verwerker Noord", kind="processor", processor_number="12345"),
    )
    material = create_material(
        session,
        tenant_id=tenant.id,
        data=MaterialCreate(code="BSA", description="Bouw- en sloopafval", eural_code="170904"),
        by_user_id=None,
    )
    stream = create_waste_stream(
        session,
        tenant_id=tenant.id,
        data=WasteStreamCreate(
            number="123450000001",
            customer_id=a.id,
            processor_site_id=processor.id,
            material_id=material.id,
            valid_from=date(2026, 1, 1),
        ),
        by_user_id=None,
    )
    emails = {}
    for role in ("owner", "planner", "administrator", "driver"):
        email = f"{role}@acme.example"
        create_user(
            session,
            tenant_id=tenant.id,
            email=email,
            name=role.capitalize() + " Acme",
            password=PASSWORD,
            roles=[role],
        )
        emails[role] = email
    for key, customer in (("customer_a", a), ("customer_b", b)):
        email = f"{key}@klant.example"
        create_user(
            session,
            tenant_id=tenant.id,
            email=email,
            name=customer.name,
            password=PASSWORD,
            roles=["customer"],
            customer_id=customer.id,
        )
        emails[key] = email
    first = date(2026, 12, 1)
    order_a = order_b = 0
    for i in range(ORDERS):
        customer, site = (a, site_a) if i % 3 else (b, site_b)
        order = create_order(
            session,
            tenant_id=tenant.id,
            data=OrderCreate(
                customer_id=customer.id,
                order_type="container_exchange" if i % 2 else "container_place",
                site_id=site.id,
                requested_date=first + timedelta(days=i % 10),
                reference=f"REF-{i:03d}",
                expected_quantity_kg="1234.5",
            ),
            source="manual",
        )
        if customer is b:
            order_b = order.id
        else:
            order_a = order.id
    return Shop(
        tenant_id=tenant.id,
        customer_a=a.id,
        customer_b=b.id,
        site_a=site_a.id,
        site_b=site_b.id,
        material=material.id,
        waste_stream=stream.number,
        order_a=order_a,
        order_b=order_b,
        emails=emails,
    )


@dataclass
class Server:
    url: str
    factory: sessionmaker[Session]
    shop: Shop


@pytest.fixture(scope="session")
def vendor_assets() -> None:
    """The installer runs first (as ``make setup`` does): pages need htmx."""
    if assets.missing():
        result = subprocess.run(
            [sys.executable, "-m", "cloud.web.assets", "install"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, vendor_assets: None) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("web")
    url = f"sqlite:///{(tmp / 'oms.db').as_posix()}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    with transaction(factory) as s:
        shop = build_shop(s)
        sha = DocumentStore(tmp / "documents").put(TICKET_PDF)
        upsert(
            s,
            tenant_id=shop.tenant_id,
            sha256=sha,
            kind="ticket",
            filename="weegbon 2026-000029.pdf",
            content_type="application/pdf",
            size=len(TICKET_PDF),
            order_id=shop.order_a,
            stored=True,
        )
    app = create_app(Settings(environment="test", database_url=url, data_dir=tmp), factory)
    port = services.free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    deadline = time.monotonic() + 10
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield Server(url=f"http://127.0.0.1:{port}", factory=factory, shop=shop)
    finally:
        srv.should_exit = True


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        services.missing("Chromium", "not installed (deploy/dev/install-test-browser.sh)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        services.missing("Playwright", "the python package is not installed")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Visit:
    """One browser context (its own cookies) with checks every page must pass: no request
    leaves the machine, nothing is refused by the CSP, no page is a server error."""

    def __init__(self, browser: Any, server: Server, shots: Path, lang: str = "nl") -> None:
        self.server = server
        self.shots = shots
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 860}, locale="nl-NL" if lang == "nl" else "en-GB"
        )
        self.page = self.context.new_page()
        self.refused: list[str] = []
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.page.on(
            "console", lambda m: self.refused.append(m.text) if "Refused" in m.text else None
        )
        self.page.on(
            "request",
            lambda r: (
                None if r.url.startswith((server.url, "data:")) else self.outside.append(r.url)
            ),
        )
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
        )

    def go(self, path: str) -> Any:
        return self.page.goto(self.server.url + path)

    def login(self, who: str) -> None:
        self.go("/login")
        self.page.fill("input[name=email]", self.server.shop.emails[who])
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("form#login button[type=submit]")
        self.page.wait_for_load_state()

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        target = os.environ.get("OMS_SCREENS_DIR")
        if target:
            Path(target).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(target) / path.name)
        return path

    def check(self) -> None:
        assert self.refused == [], self.refused
        assert self.outside == [], self.outside
        assert self.errors == [], self.errors

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visit(browser: Any, server: Server, tmp_path: Path) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_(lang: str = "nl") -> Visit:
        v = Visit(browser, server, tmp_path, lang)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.check()
        v.close()
