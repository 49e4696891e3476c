from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import CurrentUser, DbSession, require_roles
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
