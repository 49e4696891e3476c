"""Order use cases. Plain functions with keyword-only arguments; they never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.customers.models import Customer
from cloud.db import utcnow
from cloud.numbering import service as numbering
from cloud.orders import events, paging, repository, validation
from cloud.orders.errors import (
    CorrectionNotAllowed,
    OrderDateOutOfRange,
    OrderLocked,
    OrderNotFound,
    ReasonRequired,
)
from cloud.orders.lifecycle import OrderStatus, assert_transition
from cloud.orders.models import Order, OrderLine, OrderSource, OrderStatusChange
from cloud.orders.schemas import (
    HistoryEntry,
    OrderCreate,
    OrderDocumentRead,
    OrderLineIn,
    OrderLineRead,
    OrderPage,
    OrderRead,
    OrderSummary,
    OrderUpdate,
    StatusChangeRead,
    WeighingSummary,
)
from cloud.orders.scope import OrderScope
from cloud.orders.validation import ORDER_FIELDS, DateBounds
from cloud.permissions import Action, can, roles_for
from cloud.references import resolve

__all__ = [
    "DateBounds",
    "OrderDateOutOfRange",
    "cancel_order",
    "change_status",
    "create_order",
    "create_order_once",
    "get_order",
    "history",
    "list_orders",
    "manual_source_ref",
    "may_see_review",
    "order_bin",
    "to_read",
    "to_summaries",
    "update_order",
]

ENTITY = "order"
LIST = "orders"
LIST_BY_DATE = "orders-by-date"
"""The order list filtered by requested date: sorted, and paged, by that date."""
BIN = "order-bin"
OPEN = frozenset({OrderStatus.CREATED.value, OrderStatus.PLANNED.value})
CORRECTABLE = frozenset({OrderStatus.EXECUTED.value, OrderStatus.READY_FOR_INVOICING.value})


MANUAL_REF_PREFIX = "manual:"


def manual_source_ref(key: str | None) -> str | None:
    """The ``source_ref`` of a manual order made with the client's idempotency key (an
    ``Idempotency-Key`` header, the web form's ``request_id``); none without a key."""
    return f"{MANUAL_REF_PREFIX}{key}" if key else None


def next_order_number(session: Session, *, tenant_id: int) -> str:
    """The tenant's ``order`` number series, row-locked: gapless, never shared."""
    return numbering.next_number(session, tenant_id=tenant_id, purpose="order")


# -- creating -----------------------------------------------------------------------------------


class _AlreadyThere(Exception):
    """Inside the savepoint: another transaction made the order for this ``source_ref``."""

    def __init__(self, order: Order) -> None:
        self.order = order


def create_order(
    session: Session,
    *,
    tenant_id: int,
    data: OrderCreate,
    source: str | OrderSource,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    source_ref: str | None = None,
    review_reasons: Sequence[str] = (),
    dates: DateBounds | None = None,
    flag_customer_mismatch: bool = False,
) -> Order:
    """A new order in the order bin, or the order this ``source_ref`` already made (see
    :func:`create_order_once`)."""
    order, _ = create_order_once(
        session,
        tenant_id=tenant_id,
        data=data,
        source=source,
        by_user_id=by_user_id,
        by_device_id=by_device_id,
        source_ref=source_ref,
        review_reasons=review_reasons,
        dates=dates,
        flag_customer_mismatch=flag_customer_mismatch,
    )
    return order


def create_order_once(
    session: Session,
    *,
    tenant_id: int,
    data: OrderCreate,
    source: str | OrderSource,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    source_ref: str | None = None,
    review_reasons: Sequence[str] = (),
    dates: DateBounds | None = None,
    flag_customer_mismatch: bool = False,
    source_ref_unused: bool = False,
) -> tuple[Order, bool]:
    """A new order in the order bin, and True; or, when the tenant already has an order for
    ``source_ref`` (the channel's idempotency key), that order and False, creating nothing.

    Concurrent callers with one ``source_ref`` make one order: it is looked up again right
    before the number is taken, and the unique constraint on ``(tenant_id, source_ref)``
    decides a closer race (the insert runs in a savepoint; on a conflict the savepoint is
    rolled back, handing the number back, gapless, and the other order is read back). The
    number is taken last, so the series lock (held to COMMIT) covers few statements.
    ``source_ref_unused``: the caller has just looked ``source_ref`` up in this transaction
    and found no order (saves the first look-up).

    ``dates``: the range a client may ask for (the API passes it; intake from devices records
    the date the weighing happened). ``flag_customer_mismatch``: a site or vehicle of another
    customer becomes a review reason instead of a refusal (facts from devices)."""
    source = OrderSource(source)
    if source_ref is not None and not source_ref_unused:
        existing = repository.by_source_ref(session, tenant_id=tenant_id, source_ref=source_ref)
        if existing is not None:
            return existing, False
    if dates is not None:
        dates.check(data)
    mismatches: list[str] | None = [] if flag_customer_mismatch else None
    values = validation.prepare(
        session,
        tenant_id=tenant_id,
        current={},
        changes=data.model_dump(include=set(ORDER_FIELDS)),
        open_order=True,
        on_default=utcnow().date(),
        mismatches=mismatches,
    )
    validation.check_lines(session, tenant_id=tenant_id, lines=data.lines)
    reasons = [*review_reasons, *(mismatches or ())]
    try:
        with session.begin_nested():
            if source_ref is not None:
                # Again, after the checks and before the number is taken (not under its
                # lock: it is held to COMMIT). An order committed meanwhile is seen here; the
                # unique constraint decides a closer race.
                there = repository.by_source_ref(
                    session, tenant_id=tenant_id, source_ref=source_ref
                )
                if there is not None:
                    raise _AlreadyThere(there)
            order = _insert(
                session,
                tenant_id=tenant_id,
                values=values,
                lines=data.lines,
                source=source,
                source_ref=source_ref,
                review_reasons=reasons,
                by_user_id=by_user_id,
                by_device_id=by_device_id,
            )
    except _AlreadyThere as there:
        return there.order, False
    except IntegrityError:
        if source_ref is None:
            raise
        existing = repository.by_source_ref(session, tenant_id=tenant_id, source_ref=source_ref)
        if existing is None:
            raise
        return existing, False
    return order, True


def _insert(
    session: Session,
    *,
    tenant_id: int,
    values: dict[str, Any],
    lines: Sequence[OrderLineIn],
    source: OrderSource,
    source_ref: str | None,
    review_reasons: list[str],
    by_user_id: int | None,
    by_device_id: str | None,
) -> Order:
    """The order, its status row, lines and audit. Everything is checked before: the number
    is taken last, right before the order's INSERT, because it locks the tenant's series
    until COMMIT (every other order of the tenant waits for it)."""
    order = Order(
        tenant_id=tenant_id,
        source=source.value,
        source_ref=source_ref,
        status=OrderStatus.CREATED.value,
        needs_review=bool(review_reasons),
        review_reasons=list(review_reasons),
        created_by_user_id=by_user_id,
        **values,
    )
    order.number = next_order_number(session, tenant_id=tenant_id)
    session.add(order)
    session.flush()
    why = f"created ({source.value})"
    # The status row first: the history shows the creation before its fields.
    session.add(
        OrderStatusChange(
            tenant_id=tenant_id,
            order_id=order.id,
            from_status=None,
            to_status=OrderStatus.CREATED.value,
            by_user_id=by_user_id,
            by_device_id=by_device_id,
            reason=why,
        )
    )
    _add_lines(session, order=order, lines=lines)
    session.flush()
    created: list[tuple[object, tuple[str, ...]]] = [
        (order, ("number", "source", "source_ref", *ORDER_FIELDS))
    ]
    if lines:
        created.append((SimpleNamespace(id=order.id, lines=_line_snapshot(lines)), ("lines",)))
    audit.record_rows(  # one INSERT for all the fields (and the lines)
        session,
        [
            row
            for obj, fields in created
            for row in audit.created_rows(
                obj,
                fields,
                tenant_id=tenant_id,
                entity=ENTITY,
                by_user_id=by_user_id,
                by_device_id=by_device_id,
                reason=why,
            )
        ],
    )
    return order


def _add_lines(session: Session, *, order: Order, lines: Sequence[OrderLineIn]) -> None:
    session.add_all(
        OrderLine(
            tenant_id=order.tenant_id,
            order_id=order.id,
            position=i,
            article_id=line.article_id,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
        )
        for i, line in enumerate(lines, start=1)
    )


def _line_snapshot(lines: Iterable[OrderLineIn | OrderLine]) -> list[dict[str, Any]]:
    """Lines as the audit records them (field ``lines`` of the order: the whole list)."""
    return [
        {
            "article_id": line.article_id,
            "description": line.description,
            "quantity": audit.as_text(line.quantity),
            "unit_price": audit.as_text(line.unit_price),
        }
        for line in lines
    ]


# -- changing -----------------------------------------------------------------------------------


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


def _locked(session: Session, *, tenant_id: int, order_id: int) -> Order:
    order = repository.get(session, tenant_id=tenant_id, order_id=order_id, for_update=True)
    if order is None:
        raise OrderNotFound(f"order {order_id} not found")
    return order


def check_editable(order: Order, *, roles: Iterable[str], reason: str | None) -> None:
    """What may change depends on the status: an open order (created, planned) changes with
    ``order.update``; an executed one only with ``order.correct`` and a reason; a cancelled
    or invoiced one not at all."""
    status = order.status
    if status == OrderStatus.CANCELLED.value:
        raise OrderLocked(f"order {order.number} is cancelled: it can no longer be changed")
    if status == OrderStatus.INVOICED.value:
        raise OrderLocked(
            f"order {order.number} is invoiced: it can no longer be changed (a credit note "
            "reopens it)"
        )
    roles = frozenset(roles)
    if status in CORRECTABLE:
        if not can(roles, Action.ORDER_CORRECT):
            raise CorrectionNotAllowed(
                f"order {order.number} is {status}: only "
                f"{' or '.join(sorted(roles_for(Action.ORDER_CORRECT)))} may correct it"
            )
        if not reason:
            raise ReasonRequired(
                f"reason: order {order.number} is {status}; a correction needs a reason"
            )
    elif not can(roles, Action.ORDER_UPDATE):
        raise CorrectionNotAllowed(f"changing order {order.number} needs order.update")


def update_order(
    session: Session,
    *,
    tenant_id: int,
    order_id: int,
    data: OrderUpdate,
    roles: Iterable[str],
    by_user_id: int | None = None,
    dates: DateBounds | None = None,
) -> Order:
    """Change the fields ``data`` sends (``check_editable`` says whether the caller may),
    checked like a new order's, each changed field audited with the reason. ``lines``
    replaces the lines (audited as the field ``lines``). A change to an open order is
    published as ``events.OrderChanged`` (a job dispatched to a truck follows it)."""
    order = _locked(session, tenant_id=tenant_id, order_id=order_id)
    check_editable(order, roles=roles, reason=data.reason)
    changes = data.changes()
    new_lines: list[OrderLineIn] | None = changes.pop("lines", None)  # type: ignore[assignment]
    if dates is not None:
        dates.check(data)
    when = order.executed_at or utcnow()
    values = validation.prepare(
        session,
        tenant_id=tenant_id,
        current={f: getattr(order, f) for f in ORDER_FIELDS},
        changes=changes,
        open_order=order.status in OPEN,
        on_default=when.date(),
    )
    if new_lines is not None:
        validation.check_lines(session, tenant_id=tenant_id, lines=new_lines)
    was_open = order.status in OPEN
    changed = audit.apply_changes(
        session,
        order,
        values,
        tenant_id=tenant_id,
        entity=ENTITY,
        by_user_id=by_user_id,
        reason=data.reason,
    )
    fields = {row.field for row in changed}
    if new_lines is not None:
        old = repository.lines_by_order(session, {order.id}).get(order.id, [])
        snapshot = SimpleNamespace(id=order.id, lines=_line_snapshot(old))
        if audit.apply_changes(
            session,
            snapshot,
            {"lines": _line_snapshot(new_lines)},
            tenant_id=tenant_id,
            entity=ENTITY,
            by_user_id=by_user_id,
            reason=data.reason,
        ):
            session.execute(delete(OrderLine).where(OrderLine.order_id == order.id))
            _add_lines(session, order=order, lines=new_lines)
            fields.add("lines")
    order.updated_at = utcnow()
    session.flush()
    if was_open and fields:
        # A job on a truck follows the order (``cloud.jobs``: a new revision, or withdrawn).
        events.publish(
            session,
            events.OrderChanged(order=order, fields=frozenset(fields), by_user_id=by_user_id),
        )
    return order


def cancel_order(
    session: Session,
    *,
    tenant_id: int,
    order_id: int,
    reason: str,
    by_user_id: int | None = None,
) -> Order:
    """Cancel an open order (created or planned: ``lifecycle``), with the reason. A job
    dispatched to a truck is withdrawn by the subscribers of ``events.OrderCancelled``."""
    order = _locked(session, tenant_id=tenant_id, order_id=order_id)
    change_status(
        session, order=order, to=OrderStatus.CANCELLED, by_user_id=by_user_id, reason=reason
    )
    order.cancelled_at = utcnow()
    order.cancel_reason = reason
    session.flush()
    events.publish(
        session, events.OrderCancelled(order=order, reason=reason, by_user_id=by_user_id)
    )
    return order


# -- reading ------------------------------------------------------------------------------------


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


def list_orders(
    session: Session,
    *,
    scope: OrderScope,
    filters: repository.OrderFilter = repository.OrderFilter(),
    after: str | None = None,
    limit: int = 50,
    internal: bool = True,
) -> OrderPage:
    """A page of the orders ``scope`` may see, newest first (with a date filter: latest
    requested date first); ``after`` is the ``next`` of the previous page, refused (422) by
    a list of the other sort order. No count and no offset: every page costs the same.
    ``internal``: as in :func:`to_summaries`."""
    if filters.customer_id is not None:
        resolve(
            session,
            Customer,
            field="customer_id",
            id_=filters.customer_id,
            tenant_id=scope.tenant_id,
        )
    after_id = after_date = None
    if filters.by_date:
        after_date = paging.decode_date_key(LIST_BY_DATE, after) if after else None
    else:
        after_id = paging.decode_id(LIST, after) if after else None
    rows = repository.list_page(
        session,
        scope=scope,
        filters=filters,
        after_id=after_id,
        after_date=after_date,
        limit=limit,
    )
    page, more = rows[:limit], len(rows) > limit
    next_ = None
    if more and page:
        last = page[-1]
        if filters.by_date:
            next_ = paging.encode_date_id(LIST_BY_DATE, last.requested_date, last.id)
        else:
            next_ = paging.encode_id(LIST, last.id)
    return OrderPage(items=to_summaries(session, page, internal=internal), next=next_, limit=limit)


def order_bin(
    session: Session,
    *,
    tenant_id: int,
    filters: repository.BinFilter = repository.BinFilter(),
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Order], str | None]:
    """A page of the order bin (orders not yet planned), soonest first, and the cursor of
    the next page (``None``: the last page). For the planning board."""
    key = paging.decode_date_id(BIN, after) if after else None
    rows = repository.bin_page(
        session, tenant_id=tenant_id, filters=filters, after=key, limit=limit
    )
    page, more = rows[:limit], len(rows) > limit
    last = page[-1] if page else None
    cursor = paging.encode_date_id(BIN, last.requested_date, last.id) if more and last else None
    return page, cursor


def to_summaries(
    session: Session, orders: Sequence[Order], *, internal: bool = True
) -> list[OrderSummary]:
    """Orders as lists show them, with their customer, plate and weighings, in a few
    queries. ``internal`` False (a caller without ``order.audit.read``: a customer, a
    driver): the office's review notes are left out (no reasons, ``needs_review`` false)."""
    return [OrderSummary.model_validate(d) for d in _rendered(session, orders, internal)]


def may_see_review(roles: Iterable[str]) -> bool:
    """Whether callers with these roles see the office's review notes of an order."""
    return can(frozenset(roles), Action.ORDER_AUDIT_READ)


def _rendered(
    session: Session, orders: Sequence[Order], internal: bool = True
) -> list[dict[str, Any]]:
    tenants = {o.tenant_id for o in orders}
    names = repository.customer_names(session, {o.customer_id for o in orders}, tenant_ids=tenants)
    plates = repository.plates(
        session, {o.vehicle_id for o in orders if o.vehicle_id}, tenant_ids=tenants
    )
    weighings = repository.weighings_by_order(session, {o.id for o in orders})
    return [
        {
            **{c: getattr(o, c) for c in _COLUMNS},
            "customer_name": names.get(o.customer_id, "?"),
            "plate": plates.get(o.vehicle_id) if o.vehicle_id else None,
            "weighings": [WeighingSummary.model_validate(w) for w in weighings.get(o.id, [])],
            **({} if internal else {"needs_review": False, "review_reasons": []}),
        }
        for o in orders
    ]


_COLUMNS = tuple(c for c in OrderSummary.model_fields if c in Order.__table__.columns)


def to_read(session: Session, orders: Sequence[Order], *, internal: bool = True) -> list[OrderRead]:
    """Orders in full: as :func:`to_summaries` (``internal`` too), with lines, documents and
    status history."""
    ids = {o.id for o in orders}
    tenants = {o.tenant_id for o in orders}
    lines = repository.lines_by_order(session, ids)
    documents = repository.documents_by_order(session, ids, tenant_ids=tenants)
    changes = repository.status_history(session, ids)
    return [
        OrderRead.model_validate(
            {
                **summary,
                "lines": [OrderLineRead.model_validate(x) for x in lines.get(o.id, [])],
                "documents": [OrderDocumentRead.model_validate(d) for d in documents.get(o.id, [])],
                "history": [StatusChangeRead.model_validate(h) for h in changes.get(o.id, [])],
            }
        )
        for o, summary in zip(orders, _rendered(session, orders, internal), strict=True)
    ]


def history(session: Session, *, order: Order) -> list[HistoryEntry]:
    """Status changes and field changes of the order, merged by time (oldest first; at the
    same moment the status change comes first)."""
    entries = [
        (
            h.at,
            0,
            h.id,
            HistoryEntry(
                kind="status",
                at=h.at,
                field="status",
                old_value=h.from_status,
                new_value=h.to_status,
                by_user_id=h.by_user_id,
                by_device_id=h.by_device_id,
                reason=h.reason,
            ),
        )
        for h in repository.status_history(session, {order.id}).get(order.id, [])
    ]
    entries += [
        (
            c.at,
            1,
            c.id,
            HistoryEntry(
                kind="field",
                at=c.at,
                field=c.field,
                old_value=c.old_value,
                new_value=c.new_value,
                by_user_id=c.by_user_id,
                by_device_id=c.by_device_id,
                reason=c.reason,
            ),
        )
        for c in audit.history(
            session, tenant_id=order.tenant_id, entity=ENTITY, entity_id=order.id
        )
    ]
    return [e for *_, e in sorted(entries, key=lambda e: e[:3])]


def review_window(session: Session, *, order: Order) -> tuple[str, datetime, datetime] | None:
    """The device and time window whose measurements belong to this order: from the first
    weighing to the second (a minute either side), or from arrival to completion of the job."""
    from cloud.jobs.models import JobEvent
    from cloud.weighings.models import Weighing

    w = session.scalar(select(Weighing).where(Weighing.order_id == order.id).order_by(Weighing.id))
    if w is not None:
        margin = timedelta(minutes=1)
        return w.device_id, w.first_at - margin, (w.second_at or w.first_at) + margin
    events_ = list(
        session.scalars(
            select(JobEvent).where(JobEvent.order_id == order.id).order_by(JobEvent.seq)
        )
    )
    if events_:
        return events_[0].device_id, events_[0].occurred_at, events_[-1].occurred_at
    return None
