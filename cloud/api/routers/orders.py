"""Orders: list (keyset paged), read, create, change, cancel, history, dispatch, measurements.
HTTP only: who may call what is ``cloud.permissions``; what they may see is
``cloud.orders.scope``; the rules are ``cloud.orders.service``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Response, status

from cloud.api.deps import AppSettings, DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.jobs import service as jobs
from cloud.measurements.service import readings_between
from cloud.orders import service
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderSource, OrderType
from cloud.orders.paging import MAX_CURSOR
from cloud.orders.repository import OrderFilter
from cloud.orders.schemas import (
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_PATTERN,
    CancelRequest,
    DispatchRead,
    DispatchRequest,
    FilterDate,
    HistoryEntry,
    OrderCreate,
    OrderMeasurements,
    OrderPage,
    OrderRead,
    OrderUpdate,
    ReadingRead,
)
from cloud.orders.scope import OrderScope
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import DbId

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])

Reader = Annotated[Principal, Depends(allowed(Action.ORDER_READ))]


def visible_order(session: DbSession, principal: Reader, order_id: IdPath) -> Order:
    """The order of the path, if the caller may see it (``OrderScope``), else 404."""
    return service.get_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        scope=OrderScope.for_principal(principal),
    )


VisibleOrder = Annotated[Order, Depends(visible_order)]


@router.get("", response_model=OrderPage)
def list_orders(
    session: DbSession,
    principal: Reader,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    customer_id: Annotated[DbId | None, Query()] = None,
    order_type: OrderType | None = None,
    source: OrderSource | None = None,
    date_from: Annotated[FilterDate | None, Query(description="requested date, from")] = None,
    date_to: Annotated[FilterDate | None, Query(description="requested date, until")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="in number, reference, customer name"),
    ] = None,
    after: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="the 'next' of the previous page",
        ),
    ] = None,
    limit: Limit = 50,
) -> OrderPage:
    """Newest first, keyset paged. Office staff see the tenant's orders, customer users
    their customer's, drivers the open jobs of the vehicle they drive (those two without the
    office's review notes)."""
    return service.list_orders(
        session,
        scope=OrderScope.for_principal(principal),
        filters=OrderFilter(
            status=status_,
            customer_id=customer_id,
            order_type=order_type,
            source=source,
            date_from=date_from,
            date_to=date_to,
            q=q,
        ),
        after=after,
        limit=limit,
        internal=service.may_see_review(principal.roles),
    )


@router.get("/{order_id}", response_model=OrderRead)
def get_order(order: VisibleOrder, session: DbSession, principal: Reader) -> OrderRead:
    """Callers without ``order.audit.read`` (customers, drivers) get no review notes."""
    internal = service.may_see_review(principal.roles)
    return service.to_read(session, [order], internal=internal)[0]


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=IDEMPOTENCY_KEY_MAX,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="a key the client makes per new order: sent again (a retry), it answers "
        "200 with the order the first request made, and makes nothing",
    ),
]


@router.post(
    "",
    response_model=OrderRead,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": OrderRead, "description": "the Idempotency-Key made it before"}},
)
def create_order(
    body: OrderCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(allowed(Action.ORDER_CREATE))],
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> OrderRead:
    """References must be the tenant's (and a customer's site or vehicle the order's
    customer's), the afvalstroomnummer valid for customer, material and date: otherwise 422
    naming the field. With an ``Idempotency-Key`` the tenant already made an order for:
    200 and that order (the body is not compared), nothing new."""
    order, created = service.create_order_once(
        session,
        tenant_id=principal.tenant_id,
        data=body,
        source=OrderSource.MANUAL,
        by_user_id=principal.user_id,
        source_ref=service.manual_source_ref(idempotency_key),
        dates=service.DateBounds.for_settings(settings),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return service.to_read(session, [order])[0]


@router.patch("/{order_id}", response_model=OrderRead)
def update_order(
    order_id: IdPath,
    body: OrderUpdate,
    session: DbSession,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(allowed(Action.ORDER_UPDATE))],
) -> OrderRead:
    """Change the fields sent. Open orders: planners, administrators, owners. Executed
    orders: administrators and owners only, with a ``reason``. Cancelled and invoiced
    orders: 409."""
    order = service.update_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        data=body,
        roles=principal.roles,
        by_user_id=principal.user_id,
        dates=service.DateBounds.for_settings(settings),
    )
    return service.to_read(session, [order])[0]


@router.post("/{order_id}/cancel", response_model=OrderRead)
def cancel_order(
    order_id: IdPath,
    body: CancelRequest,
    session: DbSession,
    principal: Annotated[Principal, Depends(allowed(Action.ORDER_CANCEL))],
) -> OrderRead:
    """Cancel an order that is not executed yet, with the reason (409 otherwise)."""
    order = service.cancel_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        reason=body.reason,
        by_user_id=principal.user_id,
    )
    return service.to_read(session, [order])[0]


@router.get("/{order_id}/history", response_model=list[HistoryEntry])
def order_history(
    order_id: IdPath,
    session: DbSession,
    principal: Annotated[Principal, Depends(allowed(Action.ORDER_AUDIT_READ))],
) -> list[HistoryEntry]:
    """Status changes and changed fields (who, when, old, new, why), oldest first."""
    order = service.get_order(session, tenant_id=principal.tenant_id, order_id=order_id)
    return service.history(session, order=order)


@router.post("/{order_id}/dispatch", status_code=status.HTTP_202_ACCEPTED)
def dispatch_order(
    order_id: IdPath,
    session: DbSession,
    principal: Annotated[Principal, Depends(allowed(Action.ORDER_DISPATCH))],
    body: DispatchRequest | None = None,
) -> DispatchRead:
    """Send the order to its vehicle's on-board computer (published after the commit)."""
    msg = jobs.dispatch_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        by_user_id=principal.user_id,
        sequence=body.sequence if body else 0,
    )
    return DispatchRead(
        device_id=msg.device_id,
        job_id=msg.job_id,
        revision=msg.job.revision if msg.job else None,
    )


@router.get("/{order_id}/measurements", response_model=OrderMeasurements)
def order_measurements(
    order: VisibleOrder, session: DbSession, principal: Reader
) -> OrderMeasurements:
    """The readings recorded while this order was executed, for review."""
    window = service.review_window(session, order=order)
    if window is None:
        return OrderMeasurements(device_id=None, start=None, end=None, readings=[])
    device_id, start, end = window
    rows = readings_between(
        session, tenant_id=principal.tenant_id, device_id=device_id, start=start, end=end
    )
    return OrderMeasurements(
        device_id=device_id,
        start=start,
        end=end,
        readings=[ReadingRead.model_validate(r) for r in rows],
    )
