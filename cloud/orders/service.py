"""Order use cases. Plain functions with keyword-only arguments; they never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.customers.models import Customer, Site
from cloud.db import utcnow
from cloud.errors import Unprocessable
from cloud.fleet.models import Vehicle
from cloud.numbering import service as numbering
from cloud.orders import repository
from cloud.orders.errors import OrderNotFound
from cloud.orders.lifecycle import OrderStatus, assert_transition
from cloud.orders.models import Order, OrderStatusChange
from cloud.orders.schemas import OrderCreate, OrderRead, StatusChangeRead, WeighingSummary
from cloud.orders.scope import OrderScope
from cloud.references import UnknownReference, check_customer_scope, resolve, resolve_optional


class OrderDateOutOfRange(Unprocessable):
    """A requested date or time window outside the range the tenant can plan in."""


@dataclass(frozen=True)
class DateBounds:
    """The dates an order may ask for: ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def around(cls, today: date, *, min_year: int, max_years_ahead: int) -> DateBounds:
        year = today.year + max_years_ahead
        # 29 February has no counterpart in most years: take the 28th.
        last = today.replace(year=year, day=min(today.day, 28) if today.month == 2 else today.day)
        return cls(first=date(min_year, 1, 1), last=last)

    def check(self, data: OrderCreate) -> None:
        """Dates are compared in their own time zone: no conversion can overflow first."""
        for field, value in (
            ("requested_date", data.requested_date),
            ("window_start", data.window_start.date() if data.window_start else None),
            ("window_end", data.window_end.date() if data.window_end else None),
        ):
            if value is not None and not self.first <= value <= self.last:
                raise OrderDateOutOfRange(
                    f"{field}: {value.isoformat()} is outside the dates orders can be planned "
                    f"for ({self.first.isoformat()} to {self.last.isoformat()})"
                )


def resolve_references(
    session: Session, *, tenant_id: int, data: OrderCreate, mismatches: list[str] | None = None
) -> None:
    """Every id in the payload names a row of this tenant, and a site or vehicle that belongs
    to a customer belongs to the order's customer. ``UnknownReference`` (422) names the field;
    another tenant's row is reported exactly like a missing one.

    ``mismatches``: for intake from a device, where a fact must never be refused for it, a
    customer mismatch is appended there (a review reason) instead of raised. Another tenant's
    row is refused either way."""
    resolve(session, Customer, field="customer_id", id_=data.customer_id, tenant_id=tenant_id)
    site = resolve_optional(session, Site, field="site_id", id_=data.site_id, tenant_id=tenant_id)
    vehicle = resolve_optional(
        session, Vehicle, field="vehicle_id", id_=data.vehicle_id, tenant_id=tenant_id
    )
    for field, row in (("site_id", site), ("vehicle_id", vehicle)):
        if row is None:
            continue
        try:
            check_customer_scope(
                field=field,
                id_=row.id,
                owner_customer_id=row.customer_id,
                customer_id=data.customer_id,
            )
        except UnknownReference:
            if mismatches is None:
                raise
            mismatches.append(
                f"{field} {row.id} belongs to customer {row.customer_id}, "
                f"not to the order's customer {data.customer_id}"
            )


def next_order_number(session: Session, *, tenant_id: int) -> str:
    """The tenant's ``order`` number series, row-locked: gapless, never shared."""
    return numbering.next_number(session, tenant_id=tenant_id, purpose="order")


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
    dates: DateBounds | None = None,
    flag_customer_mismatch: bool = False,
) -> Order:
    """A new order in the order bin. ``dates``: the range a client may ask for (the API passes
    it; intake from devices records the date the weighing happened)."""
    if dates is not None:
        dates.check(data)
    mismatches: list[str] | None = [] if flag_customer_mismatch else None
    resolve_references(session, tenant_id=tenant_id, data=data, mismatches=mismatches)
    review_reasons = [*review_reasons, *(mismatches or ())]
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
    session: Session,
    *,
    tenant_id: int,
    order_id: int,
    customer_id: int | None = None,
    scope: OrderScope | None = None,
) -> Order:
    """The order, if ``scope`` (default: the tenant, or one customer) may see it; otherwise
    ``OrderNotFound``, exactly as for an order that does not exist."""
    scope = scope or OrderScope(tenant_id=tenant_id, customer_id=customer_id)
    if scope.tenant_id != tenant_id:
        raise OrderNotFound(f"order {order_id} not found")
    order = repository.get_scoped(session, scope=scope, order_id=order_id)
    if order is None:
        raise OrderNotFound(f"order {order_id} not found")
    return order


_COLUMNS = tuple(c for c in OrderRead.model_fields if c in Order.__table__.columns)


def to_read(session: Session, orders: Sequence[Order]) -> list[OrderRead]:
    """Render orders with their customer, plate, weighings and history in a few queries."""
    ids = {o.id for o in orders}
    tenants = {o.tenant_id for o in orders}
    names = repository.customer_names(session, {o.customer_id for o in orders}, tenant_ids=tenants)
    plates = repository.plates(
        session, {o.vehicle_id for o in orders if o.vehicle_id}, tenant_ids=tenants
    )
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
