"""Two tenants with a user per office role and a customer user, and the JSON API on them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from cloud.api.app import build
from cloud.customers.service import create_customer
from cloud.db import transaction
from cloud.settings import Settings
from cloud.tenancy.service import create_tenant, create_user, issue_token


@dataclass
class Company:
    slug: str
    tenant_id: int
    customer_id: int
    users: dict[str, int] = field(default_factory=dict)
    """Role -> the id of a user with only that role (``owner``, ``planner``, ...)."""
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    """Role -> Authorization header of that user."""


def make_company(session: Session, slug: str) -> Company:
    tenant = create_tenant(session, slug=slug, name=f"{slug} B.V.")
    customer = create_customer(session, tenant_id=tenant.id, number="1001", name=f"{slug} klant")
    company = Company(slug=slug, tenant_id=tenant.id, customer_id=customer.id)
    for role in ("owner", "planner", "administrator", "driver", "customer"):
        user = create_user(
            session,
            tenant_id=tenant.id,
            email=f"{role}@{slug}.example",
            name=role.title(),
            password="a-long-password-1",
            roles=[role],
            customer_id=customer.id if role == "customer" else None,
        )
        token, _ = issue_token(session, user_id=user.id, ttl=timedelta(hours=1))
        company.users[role] = user.id
        company.tokens[role] = {"Authorization": f"Bearer {token}"}
    return company


@pytest.fixture
def companies(factory: sessionmaker[Session]) -> tuple[Company, Company]:
    with transaction(factory) as s:
        return make_company(s, "acme"), make_company(s, "other")


@pytest.fixture
def api(factory: sessionmaker[Session], db_url: str) -> Iterator[TestClient]:
    settings = Settings(environment="test", database_url=db_url)
    with TestClient(build(settings, factory)) as client:
        yield client
