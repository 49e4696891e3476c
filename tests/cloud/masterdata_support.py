"""Shared set-up for the master data tests: two tenants with users of each role, and an
API client on the migrated database (SQLite and PostgreSQL through ``db_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import transaction
from cloud.entrypoints.app import create_app
from cloud.settings import Settings
from cloud.tenancy.service import create_tenant, create_user, issue_token

ROLES = ("owner", "administrator", "planner", "driver")


@dataclass
class Office:
    """A tenant with one user per role; ``user_id`` is the administrator."""

    tenant_id: int
    user_id: int
    tokens: dict[str, str] = field(default_factory=dict)

    def auth(self, role: str = "administrator") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def make_office(session: Session, *, slug: str) -> Office:
    tenant = create_tenant(session, slug=slug, name=f"{slug} B.V.")
    office = Office(tenant_id=tenant.id, user_id=0)
    for role in ROLES:
        user = create_user(
            session,
            tenant_id=tenant.id,
            email=f"{role}@{slug}.example",
            name=role.title(),
            password="secret-pw",
            roles=[role],
        )
        office.tokens[role], _ = issue_token(session, user_id=user.id, ttl=timedelta(hours=1))
        if role == "administrator":
            office.user_id = user.id
    return office


@pytest.fixture
def offices(factory: sessionmaker[Session]) -> tuple[Office, Office]:
    with transaction(factory) as s:
        return make_office(s, slug="acme"), make_office(s, slug="globex")


@pytest.fixture
def client(factory: sessionmaker[Session], db_url: str) -> Iterator[TestClient]:
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


def count(factory: sessionmaker[Session], model: Any, **where: Any) -> int:
    with factory() as s:
        stmt = select(func.count()).select_from(model)
        for name, value in where.items():
            stmt = stmt.where(getattr(model, name) == value)
        return int(s.scalar(stmt) or 0)
