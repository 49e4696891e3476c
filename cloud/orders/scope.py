"""Which of a tenant's orders a caller may see. Office staff see the whole tenant, customer
users their customer's orders, drivers the jobs of the vehicle they drive.

Drivers: until routes exist, "the jobs of their own routes" are the planned (dispatched)
orders of the vehicle whose ``driver_user_id`` is the driver. The planning issue replaces this
with the stops of the driver's routes; the scope is built here only, so that change is local."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, false, select

from cloud.fleet.models import Vehicle
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order

if TYPE_CHECKING:
    from cloud.tenancy.service import Principal

OFFICE_ROLES = frozenset({"planner", "administrator", "owner"})
DRIVER_VISIBLE = (OrderStatus.PLANNED.value,)
"""The statuses of a driver's jobs: dispatched to the truck and not yet done."""


@dataclass(frozen=True)
class OrderScope:
    tenant_id: int
    customer_id: int | None = None
    """Set for customer users: only this customer's orders."""
    driver_user_id: int | None = None
    """Set for drivers: only the open jobs of the vehicle this user drives."""
    none: bool = False
    """A caller with no role that sees orders (or a customer user without a customer)."""

    @classmethod
    def whole_tenant(cls, tenant_id: int) -> OrderScope:
        return cls(tenant_id=tenant_id)

    @classmethod
    def for_principal(cls, principal: Principal) -> OrderScope:
        roles = principal.roles
        if roles & OFFICE_ROLES:
            return cls(tenant_id=principal.tenant_id)
        if "driver" in roles:
            return cls(tenant_id=principal.tenant_id, driver_user_id=principal.user_id)
        if "customer" in roles and principal.customer_id is not None:
            return cls(tenant_id=principal.tenant_id, customer_id=principal.customer_id)
        return cls(tenant_id=principal.tenant_id, none=True)

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [Order.tenant_id == self.tenant_id]
        if self.none:
            where.append(false())
        if self.customer_id is not None:
            where.append(Order.customer_id == self.customer_id)
        if self.driver_user_id is not None:
            driven = select(Vehicle.id).where(
                Vehicle.tenant_id == self.tenant_id,
                Vehicle.driver_user_id == self.driver_user_id,
            )
            where.append(Order.vehicle_id.in_(driven))
            where.append(Order.status.in_(DRIVER_VISIBLE))
        return where
