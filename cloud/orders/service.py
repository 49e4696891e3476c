"""Order use cases. Plain functions with keyword-only arguments; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cloud.customers.service import get_customer
from cloud.db import utcnow
from cloud.errors import NotFound
from cloud.orders import repository
from cloud.orders.errors import OrderNotFound
from cloud.orders.lifecycle import OrderStatus, assert_transition
from cloud.orders.models import Order, OrderStatusChange
from cloud.orders.schemas import OrderCreate, OrderRead, StatusChangeRead, WeighingSummary
from cloud.tenancy.models import Tenant


def next_order_number(session: Session, *, tenant_id: int) -> str:
    """Per-tenant counter behind a row lock, so concurrent intake never shares a number."""
    n = session.scalar(
        select(Tenant.next_order_number).where(Tenant.id == tenant_id).with_for_update()
    )
    if n is None:
        raise NotFound(f"tenant {tenant_id} not found")
    session.execute(update(Tenant).where(Tenant.id == tenant_id).values(next_order_number=n + 1))
    return f"{utcnow().year}-{n:06d}"


def create_order(
    session: Session,
    *,
    tenant_id: int,
    data: OrderCreate,
    source: str,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    source_ref: str | None = None,
    review_reasons: Sequence[str] = (),
) -> Order:
    get_customer(session, tenant_id=tenant_id, customer_id=data.customer_id)
    order = Order(
        tenant_id=tenant_id,
        number=next_order_number(session, tenant_id=tenant_id),
        source=source,
        source_ref=source_ref,
        status=OrderStatus.CREATED.value,
        needs_review=bool(review_reasons),
        review_reasons=list(review_reasons),
        **data.model_dump(),
    )
    session.add(order)
    session.flush()
    session.add(
        OrderStatusChange(
            tenant_id=tenant_id,
            order_id=order.id,
            from_status=None,
            to_status=OrderStatus.CREATED.value,
            by_user_id=by_user_id,
            by_device_id=by_device_id,
            reason=f"created ({source})",
        )
    )
    return order


def change_status(
    session: Session,
    *,
    order: Order,
    to: OrderStatus,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    reason: str | None = None,
) -> Order:
    assert_transition(order.status, to)
    session.add(
        OrderStatusChange(
            tenant_id=order.tenant_id,
            order_id=order.id,
            from_status=order.status,
            to_status=to.value,
            by_user_id=by_user_id,
            by_device_id=by_device_id,
            reason=reason,
        )
    )
    order.status = to.value
    if to is OrderStatus.EXECUTED:
        order.executed_at = utcnow()
    session.flush()
    return order


def get_order(
    session: Session, *, tenant_id: int, order_id: int, customer_id: int | None = None
) -> Order:
    order = repository.get(session, tenant_id=tenant_id, order_id=order_id)
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise OrderNotFound(f"order {order_id} not found")
    return order


_COLUMNS = tuple(c for c in OrderRead.model_fields if c in Order.__table__.columns)


def to_read(session: Session, orders: Sequence[Order]) -> list[OrderRead]:
    """Render orders with their customer, plate, weighings and history in a few queries."""
    ids = {o.id for o in orders}
    names = repository.customer_names(session, {o.customer_id for o in orders})
    plates = repository.plates(session, {o.vehicle_id for o in orders if o.vehicle_id})
    weighings = repository.weighings_by_order(session, ids)
    history: dict[int, list[OrderStatusChange]] = {}
    for change in session.scalars(
        select(OrderStatusChange)
        .where(OrderStatusChange.order_id.in_(ids))
        .order_by(OrderStatusChange.id)
    ):
        history.setdefault(change.order_id, []).append(change)
    out = []
    for o in orders:
        out.append(
            OrderRead.model_validate(
                {
                    **{c: getattr(o, c) for c in _COLUMNS},
                    "customer_name": names.get(o.customer_id, "?"),
                    "plate": plates.get(o.vehicle_id) if o.vehicle_id else None,
                    "weighings": [
                        WeighingSummary.model_validate(w) for w in weighings.get(o.id, [])
                    ],
                    "history": [StatusChangeRead.model_validate(h) for h in history.get(o.id, [])],
                }
            )
        )
    return out


def review_window(session: Session, *, order: Order) -> tuple[str, datetime, datetime] | None:
    """The device and time window whose measurements belong to this order: from the first
    weighing to the second (a minute either side), or from arrival to completion of the job."""
    from cloud.jobs.models import JobEvent
    from cloud.weighings.models import Weighing

    w = session.scalar(select(Weighing).where(Weighing.order_id == order.id).order_by(Weighing.id))
    if w is not None:
        margin = timedelta(minutes=1)
        return w.device_id, w.first_at - margin, (w.second_at or w.first_at) + margin
    events = list(
        session.scalars(
            select(JobEvent).where(JobEvent.order_id == order.id).order_by(JobEvent.seq)
        )
    )
    if events:
        return events[0].device_id, events[0].occurred_at, events[-1].occurred_at
    return None
