"""Every order query lives here; all are scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.customers.models import Customer
from cloud.fleet.models import Vehicle
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order
from cloud.orders.scope import OrderScope
from cloud.weighings.models import Weighing


def get(
    session: Session, *, tenant_id: int, order_id: int, for_update: bool = False
) -> Order | None:
    stmt = select(Order).where(Order.tenant_id == tenant_id, Order.id == order_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def by_source_ref(session: Session, *, tenant_id: int, source_ref: str) -> Order | None:
    return session.scalar(
        select(Order).where(Order.tenant_id == tenant_id, Order.source_ref == source_ref)
    )


def get_scoped(session: Session, *, scope: OrderScope, order_id: int) -> Order | None:
    return session.scalar(select(Order).where(Order.id == order_id, *scope.conditions()))


def page(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int | None = None,
    status: OrderStatus | None = None,
    limit: int = 50,
    offset: int = 0,
    scope: OrderScope | None = None,
) -> tuple[Sequence[Order], int]:
    """A page of the orders ``scope`` allows (default: the tenant's, or one customer's)."""
    scope = scope or OrderScope(tenant_id=tenant_id, customer_id=customer_id)
    where = scope.conditions()
    if status is not None:
        where.append(Order.status == status.value)
    total = session.scalar(select(func.count()).select_from(Order).where(*where)) or 0
    rows = session.scalars(
        select(Order).where(*where).order_by(Order.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, total


def planned_for_weighing(
    session: Session,
    *,
    tenant_id: int,
    vehicle_id: int,
    site_id: int | None,
    day_start: datetime,
    day_end: datetime,
    material: str | None,
) -> Order | None:
    """A planned order this weighing fulfils: same vehicle, site and day, and the same material
    when both name one. The oldest such order wins."""
    stmt = select(Order).where(
        Order.tenant_id == tenant_id,
        Order.vehicle_id == vehicle_id,
        Order.status == OrderStatus.PLANNED.value,
        func.coalesce(Order.window_start, day_start) < day_end,
        func.coalesce(Order.window_end, day_end) > day_start,
    )
    if site_id is not None:
        stmt = stmt.where((Order.site_id == site_id) | Order.site_id.is_(None))
    candidates = session.scalars(stmt.order_by(Order.id).with_for_update()).all()
    for order in candidates:
        if order.requested_date is not None and not (
            day_start.date() <= order.requested_date <= day_end.date()
        ):
            continue
        if material and order.material and order.material.lower() != material.lower():
            continue
        return order
    return None


def customer_names(
    session: Session, ids: set[int], *, tenant_ids: set[int] | None = None
) -> dict[int, str]:
    """Names by id; with ``tenant_ids``, only rows of those tenants (an order never shows
    another tenant's row, even if a bad reference slipped into the database)."""
    if not ids:
        return {}
    stmt = select(Customer.id, Customer.name).where(Customer.id.in_(ids))
    if tenant_ids is not None:
        stmt = stmt.where(Customer.tenant_id.in_(tenant_ids))
    return {i: n for i, n in session.execute(stmt).tuples()}


def plates(
    session: Session, ids: set[int], *, tenant_ids: set[int] | None = None
) -> dict[int, str]:
    if not ids:
        return {}
    stmt = select(Vehicle.id, Vehicle.plate).where(Vehicle.id.in_(ids))
    if tenant_ids is not None:
        stmt = stmt.where(Vehicle.tenant_id.in_(tenant_ids))
    return {i: p for i, p in session.execute(stmt).tuples()}


def weighings_by_order(session: Session, ids: set[int]) -> dict[int, list[Weighing]]:
    out: dict[int, list[Weighing]] = {}
    if not ids:
        return out
    for w in session.scalars(
        select(Weighing).where(Weighing.order_id.in_(ids)).order_by(Weighing.id)
    ):
        out.setdefault(w.order_id, []).append(w)  # type: ignore[arg-type]
    return out
