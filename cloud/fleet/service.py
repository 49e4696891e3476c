from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import Conflict
from cloud.fleet.models import Vehicle
from protocols.normalize import plate_key


def create_vehicle(session: Session, *, tenant_id: int, plate: str, **fields: object) -> Vehicle:
    key = plate_key(plate)
    if not key:
        raise Conflict(f"plate {plate!r} has no letters or digits")
    if session.scalar(
        select(Vehicle.id).where(Vehicle.tenant_id == tenant_id, Vehicle.plate_key == key)
    ):
        raise Conflict(f"a vehicle with plate {plate!r} exists")
    vehicle = Vehicle(tenant_id=tenant_id, plate=plate.upper(), plate_key=key, **fields)
    session.add(vehicle)
    session.flush()
    return vehicle


def find_vehicle(
    session: Session, *, tenant_id: int, rfid_card: str | None, plate: str | None
) -> Vehicle | None:
    """The card identifies a vehicle first (it cannot be mistyped); then the plate."""
    if rfid_card:
        vehicle = session.scalar(
            select(Vehicle).where(Vehicle.tenant_id == tenant_id, Vehicle.rfid_card == rfid_card)
        )
        if vehicle is not None:
            return vehicle
    if plate and plate_key(plate):
        return session.scalar(
            select(Vehicle).where(
                Vehicle.tenant_id == tenant_id, Vehicle.plate_key == plate_key(plate)
            )
        )
    return None
