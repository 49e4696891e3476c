"""The API as an outsider meets it: a real ``oms serve`` process in production mode on
PostgreSQL, with two tenants that each have every role, a weighbridge, a truck, an order and a
document. One process and one database per test session (the API tests only add rows).

Tokens are issued directly in the database, not through the login route, so login throttling
never gets in the way of the attacks under test."""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from cloud.articles.models import Article
from cloud.containers.models import Container
from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import add_device
from cloud.documents.models import Document
from cloud.documents.storage import DocumentStore
from cloud.fleet.models import Driver
from cloud.fleet.service import create_vehicle
from cloud.materials.models import Material, WasteStream
from cloud.migrations import upgrade
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
from cloud.schedules.models import Schedule
from cloud.settings import Settings
from cloud.tenancy.models import ROLES
from cloud.tenancy.service import create_tenant, create_user, issue_token
from tests.support.services import REPO, free_port, missing, pg_available, pg_database, wait_port

ROLE_NAMES: tuple[str, ...] = tuple(ROLES)


@dataclass
class TenantWorld:
    """Everything one tenant has, by id."""

    slug: str
    tenant_id: int
    customer_id: int
    other_customer_id: int
    site_id: int
    customer_site_id: int
    """A site that belongs to ``customer_id``."""
    vehicle_id: int
    order_id: int
    document_id: int
    material_id: int
    article_id: int
    processor_site_id: int
    waste_stream_id: int
    container_id: int
    driver_id: int
    schedule_id: int
    weighbridge_id: str
    truck_id: str
    passwords: dict[str, str]
    """Device id -> broker (and upload) password."""
    tokens: dict[str, str]
    """Role -> bearer token of a user with only that role."""
    user_ids: dict[str, int]

    def bearer(self, role: str = "owner") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def basic(self, device_id: str | None = None) -> httpx.BasicAuth:
        device_id = device_id or self.truck_id
        return httpx.BasicAuth(device_id, self.passwords[device_id])

    def ref(self, name: str) -> int | str:
        """This tenant's row for a reference field name (``site_id`` -> its site)."""
        return {
            "customer_id": self.customer_id,
            "site_id": self.site_id,
            "vehicle_id": self.vehicle_id,
            "order_id": self.order_id,
            "document_id": self.document_id,
            "device_id": self.truck_id,
            "user_id": self.user_ids["driver"],
            "driver_user_id": self.user_ids["driver"],
            "tenant_id": self.tenant_id,
            "material_id": self.material_id,
            "article_id": self.article_id,
            "processor_site_id": self.processor_site_id,
            "waste_stream_id": self.waste_stream_id,
            "container_id": self.container_id,
            "driver_id": self.driver_id,
            "schedule_id": self.schedule_id,
        }[name]


@dataclass
class SecurityApi:
    """The running API and the two tenants in it."""

    base_url: str
    a: TenantWorld
    b: TenantWorld
    factory: sessionmaker[Session]
    data_dir: Path
    log_path: Path
    openapi: dict[str, Any] = field(default_factory=dict)

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=20.0, **kw)

    def fresh_token(self, tenant: TenantWorld, role: str = "owner") -> str:
        """A new token for the tenant's user with ``role``: for calls that may revoke it."""
        with transaction(self.factory) as s:
            token, _ = issue_token(s, user_id=tenant.user_ids[role], ttl=timedelta(hours=1))
        return token

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def server_errors(self) -> list[str]:
        """Lines of the server log that record a 500 (the catch-all handler logs each)."""
        if not self.log_path.exists():
            return []
        return [
            line
            for line in self.log_path.read_text(errors="replace").splitlines()
            if "api.unexpected_error" in line or "Traceback" in line
        ]


def png_bytes(size: tuple[int, int] = (4, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def _tenant(session: Session, slug: str, store: DocumentStore) -> TenantWorld:
    tenant = create_tenant(session, slug=slug, name=f"{slug} B.V.")
    customer = create_customer(session, tenant_id=tenant.id, number="1001", name=f"{slug} klant")
    other = create_customer(session, tenant_id=tenant.id, number="1002", name=f"{slug} ander")
    yard = Site(tenant_id=tenant.id, name=f"{slug} yard", kind="own_yard")
    customer_site = Site(
        tenant_id=tenant.id,
        name=f"{slug} bouwplaats",
        street="Dorpsstraat 1",
        city="Ede",
        customer_id=customer.id,
    )
    session.add_all([yard, customer_site])
    session.flush()
    tokens: dict[str, str] = {}
    user_ids: dict[str, int] = {}
    for role in ROLE_NAMES:
        user = create_user(
            session,
            tenant_id=tenant.id,
            email=f"{role}@{slug}.example",
            name=role.title(),
            password=secrets.token_urlsafe(12),
            roles=[role],
            customer_id=customer.id if role == "customer" else None,
        )
        tokens[role], _ = issue_token(session, user_id=user.id, ttl=timedelta(days=1))
        user_ids[role] = user.id
    truck = create_vehicle(
        session,
        tenant_id=tenant.id,
        plate=f"{slug[:2].upper()}-100-T",
        driver_user_id=user_ids["driver"],
    )
    weighbridge, wb_pw = add_device(
        session, tenant_id=tenant.id, device_id=f"wb-{slug}", kind="weighbridge", site_id=yard.id
    )
    truck_dev, truck_pw = add_device(
        session, tenant_id=tenant.id, device_id=f"truck-{slug}", kind="truck", vehicle_id=truck.id
    )
    order = create_order(
        session,
        tenant_id=tenant.id,
        data=OrderCreate(
            customer_id=customer.id,
            order_type="container_place",
            site_id=customer_site.id,
            vehicle_id=truck.id,
            material="bouw- en sloopafval",
        ),
        source="manual",
        by_user_id=user_ids["planner"],
    )
    change_status(session, order=order, to=OrderStatus.PLANNED, by_user_id=user_ids["planner"])
    data = png_bytes((5 + len(slug), 4))
    digest = store.put(data)
    doc = Document(
        tenant_id=tenant.id,
        order_id=order.id,
        kind="photo",
        filename=f"{slug}-foto.png",
        content_type="image/png",
        size=len(data),
        sha256=digest,
        stored=True,
        uploaded_by_user_id=user_ids["planner"],
    )
    session.add(doc)
    session.flush()
    md = _master_data(session, tenant.id, customer.id, customer_site.id, user_ids["driver"])
    return TenantWorld(
        slug=slug,
        tenant_id=tenant.id,
        customer_id=customer.id,
        other_customer_id=other.id,
        site_id=yard.id,
        customer_site_id=customer_site.id,
        vehicle_id=truck.id,
        order_id=order.id,
        document_id=doc.id,
        **md,
        weighbridge_id=weighbridge.id,
        truck_id=truck_dev.id,
        passwords={weighbridge.id: wb_pw, truck_dev.id: truck_pw},
        tokens=tokens,
        user_ids=user_ids,
    )


def _master_data(
    session: Session, tenant_id: int, customer_id: int, site_id: int, driver_user_id: int
) -> dict[str, int]:
    """One row of each kind of master data (written directly: the world must not depend on
    the services under test)."""
    article = Article(tenant_id=tenant_id, code="A1", name="Storten per ton", unit="TNE")
    processor = Site(
        tenant_id=tenant_id, name="Verwerker", kind="processor", processor_number="12345"
    )
    session.add_all([article, processor])
    session.flush()
    material = Material(
        tenant_id=tenant_id,
        code="BSA",
        description="Bouw- en sloopafval",
        eural_code="170904",
        article_id=article.id,
    )
    session.add(material)
    session.flush()
    stream = WasteStream(
        tenant_id=tenant_id,
        number="123450000001",
        customer_id=customer_id,
        processor_site_id=processor.id,
        material_id=material.id,
        valid_from=date(2026, 1, 1),
    )
    container = Container(
        tenant_id=tenant_id,
        number="C-001",
        container_type="afzetcontainer",
        site_id=site_id,
        location_kind="site",
    )
    driver = Driver(
        tenant_id=tenant_id, user_id=driver_user_id, name="Driver", licence_categories=["C", "CE"]
    )
    session.add_all([stream, container, driver])
    session.flush()
    schedule = Schedule(
        tenant_id=tenant_id,
        customer_id=customer_id,
        site_id=site_id,
        order_type="container_exchange",
        material_id=material.id,
        weekdays=[1],
        every_n_weeks=1,
        start_date=date(2026, 1, 5),
        paused=True,
    )
    session.add(schedule)
    session.flush()
    return {
        "material_id": material.id,
        "article_id": article.id,
        "processor_site_id": processor.id,
        "waste_stream_id": stream.id,
        "container_id": container.id,
        "driver_id": driver.id,
        "schedule_id": schedule.id,
    }


def _production_env(url: str, data_dir: Path) -> dict[str, str]:
    return {
        "OMS_ENVIRONMENT": "production",
        "OMS_SECRET_KEY": secrets.token_urlsafe(32),
        "OMS_DATABASE_URL": url,
        "OMS_DATA_DIR": str(data_dir),
        "OMS_MQTT_URL": "mqtt://127.0.0.1:1",  # the API never needs the broker to answer
    }


def openapi_document(env: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI document of the app as production builds it (production does not serve
    ``/api/openapi.json`` unless asked, so it is built in-process from the same settings)."""
    from cloud.entrypoints.app import create_app

    settings = Settings(
        environment="production",
        secret_key=env["OMS_SECRET_KEY"],
        database_url=env["OMS_DATABASE_URL"],
        data_dir=Path(env["OMS_DATA_DIR"]),
    )
    doc: dict[str, Any] = json.loads(json.dumps(create_app(settings).openapi()))
    return doc


@pytest.fixture(scope="session")
def security_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecurityApi]:
    why = pg_available()
    if why is not None:
        missing("PostgreSQL", why)
    tmp = tmp_path_factory.mktemp("security-api")
    data_dir = tmp / "data"
    with pg_database("oms_security") as url:
        upgrade(url)
        engine = make_engine(url, pool_size=2)
        factory = make_sessionmaker(engine)
        store = DocumentStore(data_dir / "documents")
        with transaction(factory) as s:
            a = _tenant(s, "acme", store)
            b = _tenant(s, "globex", store)
        env = _production_env(url, data_dir)
        port = free_port()
        log_path = tmp / "api.log"
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "cloud.entrypoints.cli", "serve", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, **env},
            )
        api = SecurityApi(
            base_url=f"http://127.0.0.1:{port}",
            a=a,
            b=b,
            factory=factory,
            data_dir=data_dir,
            log_path=log_path,
            openapi=openapi_document(env),
        )
        try:
            if not wait_port(port, 30):
                raise RuntimeError(f"oms serve did not listen on {port}: {api.log_tail()}")
            yield api
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            engine.dispose()


@pytest.fixture(scope="session")
def openapi(security_api: SecurityApi) -> dict[str, Any]:
    return security_api.openapi


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
