"""Queries of tenants and users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cloud.customers.models import Customer
from cloud.permissions import Role
from cloud.tenancy.models import ApiToken, Tenant, User, UserRole


def tenant_by_slug(session: Session, *, slug: str) -> Tenant | None:
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.slug)))


def lock_tenant(session: Session, *, tenant_id: int) -> None:
    """``SELECT ... FOR UPDATE`` on the tenant row: serializes changes to the tenant's owners
    (SQLite ignores it; its writers are serialized by ``BEGIN IMMEDIATE`` already)."""
    session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())


def user_id_by_email(session: Session, *, email: str) -> int | None:
    """Over all tenants: an e-mail address is one login."""
    return session.scalar(select(User.id).where(User.email == email))


def user_by_login(session: Session, *, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def user(session: Session, *, tenant_id: int, user_id: int) -> User | None:
    return session.scalar(select(User).where(User.id == user_id, User.tenant_id == tenant_id))


def user_by_email(session: Session, *, tenant_id: int, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email, User.tenant_id == tenant_id))


def users(session: Session, *, tenant_id: int) -> list[User]:
    return list(
        session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.email))
    )


def count_active_owners(session: Session, *, tenant_id: int, besides: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.tenant_id == tenant_id,
                User.is_active.is_(True),
                UserRole.role == Role.OWNER.value,
                User.id != besides,
            )
        )
        or 0
    )


def customer_id_by_number(session: Session, *, tenant_id: int, number: str) -> int | None:
    return session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.number == number)
    )


def customer_numbers(session: Session, *, tenant_id: int, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Customer.id, Customer.number).where(
            Customer.tenant_id == tenant_id, Customer.id.in_(ids)
        )
    )
    return {id_: number for id_, number in rows.tuples()}


def revoke_tokens(
    session: Session, *, user_id: int, now: datetime, keep_token_id: int | None = None
) -> None:
    """Revoke every live token of the user (but ``keep_token_id``, the caller's own)."""
    query = update(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if keep_token_id is not None:
        query = query.where(ApiToken.id != keep_token_id)
    session.execute(query.values(revoked_at=now))
