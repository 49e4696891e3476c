"""Every order query lives here; all are scoped by tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, UnaryExpression, and_, func, literal, or_, select, tuple_
from sqlalchemy.orm import Session

from cloud.customers.models import Customer
from cloud.documents.models import Document
from cloud.fleet.models import Vehicle
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderLine, OrderSource, OrderStatusChange, OrderType
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


@dataclass(frozen=True)
class OrderFilter:
    """What the order list can be narrowed to. ``q`` searches the number, the reference and
    the customer's name (case-insensitive, anywhere in the text)."""

    status: OrderStatus | None = None
    customer_id: int | None = None
    order_type: OrderType | None = None
    source: OrderSource | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: str | None = None

    @property
    def by_date(self) -> bool:
        """A list narrowed to requested dates is sorted by them (``list_page``)."""
        return self.date_from is not None or self.date_to is not None

    def conditions(self, tenant_id: int) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.status is not None:
            where.append(Order.status == self.status.value)
        if self.customer_id is not None:
            where.append(Order.customer_id == self.customer_id)
        if self.order_type is not None:
            where.append(Order.order_type == self.order_type.value)
        if self.source is not None:
            where.append(Order.source == self.source.value)
        if self.date_from is not None:
            where.append(Order.requested_date >= self.date_from)
        if self.date_to is not None:
            where.append(Order.requested_date <= self.date_to)
        if self.q:
            named = select(Customer.id).where(
                Customer.tenant_id == tenant_id, Customer.name.icontains(self.q, autoescape=True)
            )
            where.append(
                or_(
                    Order.number.icontains(self.q, autoescape=True),
                    Order.reference.icontains(self.q, autoescape=True),
                    Order.customer_id.in_(named),
                )
            )
        return where


def list_page(
    session: Session,
    *,
    scope: OrderScope,
    filters: OrderFilter = OrderFilter(),
    after_id: int | None = None,
    after_date: tuple[date, int] | None = None,
    limit: int = 50,
) -> list[Order]:
    """Up to ``limit + 1`` orders ``scope`` allows, after the last row of the previous page:
    keyset paging, so a page deep in the list costs what the first does. The extra row tells
    the caller there is a next page.

    Without a date filter: newest first (``id`` descending), after the order ``after_id``;
    rows inserted meanwhile never shift a page (they are newer than any cursor). With
    ``date_from``/``date_to`` (``filters.by_date``): latest requested date first, then
    ``id`` descending, after the key ``after_date`` (the ``(requested_date, id)`` of the last
    row), served by ``ix_orders_tenant_requested_date``; the filter leaves out orders
    without a date, so the key never holds NULL."""
    where = [*scope.conditions(), *filters.conditions(scope.tenant_id)]
    if filters.by_date:
        if after_id is not None:
            raise ValueError("a list filtered by date pages by (requested_date, id)")
        if after_date is not None:
            day, id_ = after_date
            where.append(
                tuple_(Order.requested_date, Order.id) < tuple_(literal(day), literal(id_))
            )
        order_by: tuple[UnaryExpression[Any], ...] = (
            Order.requested_date.desc(),
            Order.id.desc(),
        )
    else:
        if after_date is not None:
            raise ValueError("a list not filtered by date pages by id")
        if after_id is not None:
            where.append(Order.id < after_id)
        order_by = (Order.id.desc(),)
    stmt = select(Order).where(*where).order_by(*order_by).limit(limit + 1)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class BinFilter:
    """What the order bin (unplanned orders) can be narrowed to."""

    date_from: date | None = None
    date_to: date | None = None
    order_type: OrderType | None = None
    customer_id: int | None = None
    material_id: int | None = None


def bin_page(
    session: Session,
    *,
    tenant_id: int,
    filters: BinFilter = BinFilter(),
    after: tuple[date | None, int] | None = None,
    limit: int = 50,
) -> list[Order]:
    """Up to ``limit + 1`` orders of the order bin (status ``created``), soonest requested
    date first, orders without a date last, then by id; after the key ``after`` (the
    ``(requested_date, id)`` of the last row of the previous page). Served by the partial
    index ``ix_orders_bin``."""
    where: list[ColumnElement[bool]] = [
        Order.tenant_id == tenant_id,
        Order.status == OrderStatus.CREATED.value,
    ]
    f = filters
    if f.date_from is not None:
        where.append(Order.requested_date >= f.date_from)
    if f.date_to is not None:
        where.append(Order.requested_date <= f.date_to)
    if f.order_type is not None:
        where.append(Order.order_type == f.order_type.value)
    if f.customer_id is not None:
        where.append(Order.customer_id == f.customer_id)
    if f.material_id is not None:
        where.append(Order.material_id == f.material_id)
    if after is not None:
        day, id_ = after
        if day is None:
            where.append(and_(Order.requested_date.is_(None), Order.id > id_))
        else:
            where.append(
                or_(
                    Order.requested_date > day,
                    and_(Order.requested_date == day, Order.id > id_),
                    Order.requested_date.is_(None),
                )
            )
    stmt = (
        select(Order)
        .where(*where)
        .order_by(Order.requested_date.asc().nulls_last(), Order.id.asc())
        .limit(limit + 1)
    )
    return list(session.scalars(stmt))


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


def lines_by_order(session: Session, ids: set[int]) -> dict[int, list[OrderLine]]:
    out: dict[int, list[OrderLine]] = {}
    if not ids:
        return out
    for line in session.scalars(
        select(OrderLine)
        .where(OrderLine.order_id.in_(ids))
        .order_by(OrderLine.order_id, OrderLine.position)
    ):
        out.setdefault(line.order_id, []).append(line)
    return out


def documents_by_order(
    session: Session, ids: set[int], *, tenant_ids: set[int]
) -> dict[int, list[Document]]:
    out: dict[int, list[Document]] = {}
    if not ids:
        return out
    for doc in session.scalars(
        select(Document)
        .where(Document.order_id.in_(ids), Document.tenant_id.in_(tenant_ids))
        .order_by(Document.id)
    ):
        out.setdefault(doc.order_id, []).append(doc)  # type: ignore[arg-type]
    return out


def status_history(session: Session, ids: set[int]) -> dict[int, list[OrderStatusChange]]:
    out: dict[int, list[OrderStatusChange]] = {}
    if not ids:
        return out
    for change in session.scalars(
        select(OrderStatusChange)
        .where(OrderStatusChange.order_id.in_(ids))
        .order_by(OrderStatusChange.id)
    ):
        out.setdefault(change.order_id, []).append(change)
    return out
