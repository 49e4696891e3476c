"""Every schedule query; all are scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.orders.models import Order
from cloud.schedules.models import Schedule
from cloud.tenancy.models import Tenant


def get(
    session: Session, *, tenant_id: int, schedule_id: int, for_update: bool = False
) -> Schedule | None:
    stmt = select(Schedule).where(Schedule.tenant_id == tenant_id, Schedule.id == schedule_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def page(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int | None,
    paused: bool | None,
    after: int | None,
    limit: int,
) -> Sequence[Schedule]:
    """Keyset-paged on the id, oldest first: ``after`` is the last id of the previous page."""
    stmt = select(Schedule).where(Schedule.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(Schedule.customer_id == customer_id)
    if paused is not None:
        stmt = stmt.where(Schedule.paused.is_(paused))
    if after is not None:
        stmt = stmt.where(Schedule.id > after)
    return session.scalars(stmt.order_by(Schedule.id).limit(limit)).all()


def due(session: Session, *, tenant_id: int | None, today: date) -> Sequence[Schedule]:
    """Schedules that may make orders from ``today`` on: not paused, not ended before today.
    Locked, so that a second run at the same time waits and then finds the orders made
    (PostgreSQL; SQLite serialises writers anyway)."""
    stmt = select(Schedule).where(
        Schedule.paused.is_(False),
        (Schedule.until_date.is_(None)) | (Schedule.until_date >= today),
    )
    if tenant_id is not None:
        stmt = stmt.where(Schedule.tenant_id == tenant_id)
    return session.scalars(stmt.order_by(Schedule.id).with_for_update()).all()


def existing_refs(session: Session, *, tenant_id: int, refs: Sequence[str]) -> set[str]:
    if not refs:
        return set()
    return set(
        session.scalars(
            select(Order.source_ref).where(
                Order.tenant_id == tenant_id, Order.source_ref.in_(list(refs))
            )
        )
    )


def tenants(session: Session, *, tenant_id: int | None = None) -> Sequence[Tenant]:
    stmt = select(Tenant).order_by(Tenant.id)
    if tenant_id is not None:
        stmt = stmt.where(Tenant.id == tenant_id)
    return session.scalars(stmt).all()
