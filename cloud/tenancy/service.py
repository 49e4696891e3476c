"""Tenants, users and logins. Services never commit; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.errors import Conflict, Unauthorized
from cloud.tenancy.models import ROLES, ApiToken, Tenant, User, UserRole
from cloud.tenancy.security import hash_password, new_token, token_hash, verify_password


class InvalidCredentials(Unauthorized):
    pass


class InvalidToken(Unauthorized):
    pass


class UnknownRole(Conflict):
    status_code = 422


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, their tenant and roles. Every query is scoped by tenant_id."""

    user_id: int
    tenant_id: int
    email: str
    roles: frozenset[str]
    customer_id: int | None


def create_tenant(session: Session, *, slug: str, name: str, **fields: object) -> Tenant:
    if session.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
        raise Conflict(f"tenant {slug!r} exists")
    tenant = Tenant(slug=slug, name=name, **fields)
    session.add(tenant)
    session.flush()
    return tenant


def create_user(
    session: Session,
    *,
    tenant_id: int,
    email: str,
    name: str,
    password: str | None,
    roles: list[str],
    customer_id: int | None = None,
) -> User:
    bad = [r for r in roles if r not in ROLES]
    if bad:
        raise UnknownRole(f"unknown role(s) {bad}; known: {list(ROLES)}")
    email = email.strip().lower()
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict(f"a user with e-mail {email!r} exists")
    user = User(
        tenant_id=tenant_id,
        email=email,
        name=name,
        password_hash=hash_password(password) if password else None,
        customer_id=customer_id,
        roles=[UserRole(role=r) for r in sorted(set(roles))],
    )
    session.add(user)
    session.flush()
    return user


def issue_token(
    session: Session, *, user_id: int, ttl: timedelta | None, name: str = "login"
) -> tuple[str, ApiToken]:
    token = new_token()
    row = ApiToken(
        user_id=user_id,
        token_hash=token_hash(token),
        name=name,
        expires_at=utcnow() + ttl if ttl else None,
    )
    session.add(row)
    session.flush()
    return token, row


def login(
    session: Session, *, email: str, password: str, ttl: timedelta
) -> tuple[str, datetime | None, User]:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.is_active or not verify_password(password, user.password_hash):
        raise InvalidCredentials("wrong e-mail or password")
    token, row = issue_token(session, user_id=user.id, ttl=ttl)
    return token, row.expires_at, user


def authenticate(session: Session, *, token: str) -> Principal:
    row = session.execute(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == token_hash(token))
    ).first()
    if row is None:
        raise InvalidToken("unknown token")
    api_token, user = row
    now = utcnow()
    if api_token.revoked_at is not None or (api_token.expires_at and api_token.expires_at <= now):
        raise InvalidToken("token expired or revoked")
    if not user.is_active:
        raise InvalidToken("user is disabled")
    return Principal(
        user_id=user.id,
        tenant_id=user.tenant_id,
        email=user.email,
        roles=user.role_names,
        customer_id=user.customer_id,
    )
