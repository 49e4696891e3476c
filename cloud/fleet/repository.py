"""Every vehicle and driver query; all scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cloud.devices.models import Device
from cloud.fleet.models import Driver, Vehicle
from cloud.tenancy.models import User, UserRole
from protocols.normalize import plate_key


def get_vehicle(session: Session, *, tenant_id: int, vehicle_id: int) -> Vehicle | None:
    return session.scalar(
        select(Vehicle).where(Vehicle.tenant_id == tenant_id, Vehicle.id == vehicle_id)
    )


def vehicle_with_plate(session: Session, *, tenant_id: int, key: str) -> Vehicle | None:
    return session.scalar(
        select(Vehicle).where(Vehicle.tenant_id == tenant_id, Vehicle.plate_key == key)
    )


def vehicle_with_card(session: Session, *, tenant_id: int, rfid_card: str) -> Vehicle | None:
    return session.scalar(
        select(Vehicle).where(Vehicle.tenant_id == tenant_id, Vehicle.rfid_card == rfid_card)
    )


def _contains(column: ColumnElement[str] | object, q: str) -> ColumnElement[bool]:
    return func.lower(column).contains(q.lower(), autoescape=True)


def vehicles_page(
    session: Session,
    *,
    tenant_id: int,
    after: int | None,
    limit: int,
    q: str | None = None,
    active: bool | None = None,
    kind: str | None = None,
) -> Sequence[Vehicle]:
    """Keyset paging by id: the ``limit`` vehicles after ``after``."""
    stmt = select(Vehicle).where(Vehicle.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(Vehicle.id > after)
    if q:
        conditions = [_contains(Vehicle.rfid_card, q), _contains(Vehicle.vehicle_type, q)]
        if key := plate_key(q):
            conditions.append(Vehicle.plate_key.contains(key, autoescape=True))
        stmt = stmt.where(or_(*conditions))
    if active is not None:
        stmt = stmt.where(Vehicle.is_active.is_(active))
    if kind is not None:
        stmt = stmt.where(Vehicle.kind == kind)
    return session.scalars(stmt.order_by(Vehicle.id).limit(limit)).all()


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


def get_driver(session: Session, *, tenant_id: int, driver_id: int) -> Driver | None:
    return session.scalar(
        select(Driver).where(Driver.tenant_id == tenant_id, Driver.id == driver_id)
    )


def driver_of_user(session: Session, *, tenant_id: int, user_id: int) -> Driver | None:
    return session.scalar(
        select(Driver).where(Driver.tenant_id == tenant_id, Driver.user_id == user_id)
    )


def drivers_page(
    session: Session,
    *,
    tenant_id: int,
    after: int | None,
    limit: int,
    q: str | None = None,
    active: bool | None = None,
) -> Sequence[Driver]:
    stmt = select(Driver).where(Driver.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(Driver.id > after)
    if q:
        stmt = stmt.where(or_(_contains(Driver.name, q), _contains(Driver.phone, q)))
    if active is not None:
        stmt = stmt.where(Driver.is_active.is_(active))
    return session.scalars(stmt.order_by(Driver.id).limit(limit)).all()
