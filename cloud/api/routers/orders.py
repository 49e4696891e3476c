from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from cloud.api.deps import AppSettings, CurrentUser, DbSession, require_roles
from cloud.api.params import IdPath, Limit, Offset
from cloud.db import utcnow
from cloud.jobs import service as jobs
from cloud.measurements.service import readings_between
from cloud.orders import repository, service
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate, OrderPage, OrderRead
from cloud.orders.scope import OrderScope
from cloud.tenancy.service import Principal

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
OFFICE = ("planner", "administrator", "owner")


def visible_order(session: DbSession, principal: CurrentUser, order_id: IdPath) -> Order:
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
    principal: CurrentUser,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> OrderPage:
    """Office staff see the tenant's orders, customer users their customer's, drivers the
    open jobs of the vehicle they drive."""
    rows, total = repository.page(
        session,
        tenant_id=principal.tenant_id,
        scope=OrderScope.for_principal(principal),
        status=status_,
        limit=limit,
        offset=offset,
    )
    return OrderPage(items=service.to_read(session, rows), total=total, limit=limit, offset=offset)


@router.get("/{order_id}", response_model=OrderRead)
def get_order(order: VisibleOrder, session: DbSession) -> OrderRead:
    return service.to_read(session, [order])[0]


@router.post("", response_model=OrderRead, status_code=status.HTTP_201_CREATED)
def create_order(
    body: OrderCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Annotated[Principal, Depends(require_roles(*OFFICE))],
) -> OrderRead:
    """References (customer, site, vehicle) must be the tenant's, and a customer's site or
    vehicle the order's customer's: otherwise 422 naming the field."""
    order = service.create_order(
        session,
        tenant_id=principal.tenant_id,
        data=body,
        source="manual",
        by_user_id=principal.user_id,
        dates=service.DateBounds.around(
            utcnow().date(),
            min_year=settings.order_date_min_year,
            max_years_ahead=settings.order_date_max_years_ahead,
        ),
    )
    return service.to_read(session, [order])[0]


class DispatchRequest(BaseModel):
    sequence: int = Field(default=0, ge=0, le=10_000)


@router.post("/{order_id}/dispatch", status_code=status.HTTP_202_ACCEPTED)
def dispatch_order(
    order_id: IdPath,
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
    order: VisibleOrder, session: DbSession, principal: CurrentUser
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
