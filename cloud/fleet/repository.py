"""Every vehicle and driver query; all scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.crud import contains, find_in_tenant
from cloud.devices.models import Device
from cloud.fleet.models import Driver, Vehicle
from cloud.tenancy.models import User, UserRole
from protocols.normalize import plate_key


def vehicle_with_plate(session: Session, *, tenant_id: int, key: str) -> Vehicle | None:
    return find_in_tenant(session, Vehicle, tenant_id=tenant_id, plate_key=key)


def vehicle_with_card(session: Session, *, tenant_id: int, rfid_card: str) -> Vehicle | None:
    return find_in_tenant(session, Vehicle, tenant_id=tenant_id, rfid_card=rfid_card)


def vehicle_search(q: str | None) -> list[ColumnElement[bool]]:
    """What a vehicle search ``q`` matches: the card, the type or (any spelling) the plate."""
    if not q:
        return []
    conditions = [contains(Vehicle.rfid_card, q), contains(Vehicle.vehicle_type, q)]
    if key := plate_key(q):
        conditions.append(Vehicle.plate_key.contains(key, autoescape=True))
    return conditions


def device_ids(
    session: Session, *, tenant_id: int, vehicle_ids: Sequence[int]
) -> dict[int, list[str]]:
    """The devices on each vehicle, by vehicle id."""
    found: dict[int, list[str]] = {}
    if not vehicle_ids:
        return found
    rows = session.execute(
        select(Device.vehicle_id, Device.id)
        .where(Device.tenant_id == tenant_id, Device.vehicle_id.in_(vehicle_ids))
        .order_by(Device.id)
    )
    for vehicle_id, device_id in rows:
        found.setdefault(vehicle_id, []).append(device_id)
    return found


def is_active_driver_user(session: Session, *, tenant_id: int, user_id: int) -> bool:
    return (
        session.scalar(
            select(User.id)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                User.id == user_id,
                User.tenant_id == tenant_id,
                User.is_active.is_(True),
                UserRole.role == "driver",
            )
        )
        is not None
    )


def driver_of_user(session: Session, *, tenant_id: int, user_id: int) -> Driver | None:
    return find_in_tenant(session, Driver, tenant_id=tenant_id, user_id=user_id)


def driver_search(q: str | None) -> list[ColumnElement[bool]]:
    return [contains(Driver.name, q), contains(Driver.phone, q)] if q else []
