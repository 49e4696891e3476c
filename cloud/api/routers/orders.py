from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import CurrentUser, DbSession, require_roles
from cloud.jobs import service as jobs
from cloud.measurements.service import readings_between
from cloud.orders import repository, service
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.schemas import OrderCreate, OrderPage, OrderRead
from cloud.tenancy.service import Principal

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
OFFICE = ("planner", "administrator", "owner")


def _customer_scope(principal: Principal) -> int | None:
    """Customer users see their own orders only; staff see the whole tenant."""
    if principal.roles & {"planner", "administrator", "owner", "driver"}:
        return None
    return principal.customer_id if principal.customer_id is not None else -1


@router.get("", response_model=OrderPage)
def list_orders(
    session: DbSession,
    principal: CurrentUser,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OrderPage:
    rows, total = repository.page(
        session,
        tenant_id=principal.tenant_id,
        customer_id=_customer_scope(principal),
        status=status_,
        limit=limit,
        offset=offset,
    )
    return OrderPage(items=service.to_read(session, rows), total=total, limit=limit, offset=offset)


@router.get("/{order_id}", response_model=OrderRead)
def get_order(order_id: int, session: DbSession, principal: CurrentUser) -> OrderRead:
    order = service.get_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        customer_id=_customer_scope(principal),
    )
    return service.to_read(session, [order])[0]


@router.post("", response_model=OrderRead, status_code=status.HTTP_201_CREATED)
def create_order(
    body: OrderCreate,
    session: DbSession,
    principal: Annotated[Principal, Depends(require_roles(*OFFICE))],
) -> OrderRead:
    order = service.create_order(
        session,
        tenant_id=principal.tenant_id,
        data=body,
        source="manual",
        by_user_id=principal.user_id,
    )
    return service.to_read(session, [order])[0]


class DispatchRequest(BaseModel):
    sequence: int = Field(default=0, ge=0, le=10_000)


@router.post("/{order_id}/dispatch", status_code=status.HTTP_202_ACCEPTED)
def dispatch_order(
    order_id: int,
    session: DbSession,
    principal: Annotated[Principal, Depends(require_roles("planner", "owner"))],
    body: DispatchRequest | None = None,
) -> dict[str, object]:
    """Send the order to its vehicle's on-board computer (published after the commit)."""
    msg = jobs.dispatch_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        by_user_id=principal.user_id,
        sequence=body.sequence if body else 0,
    )
    return {
        "device_id": msg.device_id,
        "job_id": msg.job_id,
        "revision": msg.job.revision if msg.job else None,
    }


class ReadingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    time: datetime
    channel: str
    kind: str
    value: Decimal | None
    unit: str | None
    stable: bool | None
    mode: str | None
    condition: str
    tag_id: str | None


class OrderMeasurements(BaseModel):
    device_id: str | None
    start: datetime | None
    end: datetime | None
    readings: list[ReadingRead]


@router.get("/{order_id}/measurements", response_model=OrderMeasurements)
def order_measurements(
    order_id: int, session: DbSession, principal: CurrentUser
) -> OrderMeasurements:
    """The readings recorded while this order was executed, for review."""
    order = service.get_order(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        customer_id=_customer_scope(principal),
    )
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
