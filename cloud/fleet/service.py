"""Vehicles and drivers: creating, changing (audited), finding. Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Any

from sqlalchemy.orm import Session

from cloud.audit.models import FieldChange
from cloud.crud import Entity
from cloud.customers.models import Customer
from cloud.fleet import repository
from cloud.fleet.errors import (
    DriverExists,
    DriverInvalid,
    DriverNotFound,
    NotADriver,
    VehicleExists,
    VehicleInvalid,
    VehicleNotFound,
)
from cloud.fleet.models import Driver, Vehicle
from cloud.fleet.schemas import (
    VEHICLE_KINDS,
    DriverCreate,
    DriverRead,
    DriverUpdate,
    VehicleCreate,
    VehicleRead,
    VehicleUpdate,
)
from cloud.references import resolve, resolve_optional
from cloud.tenancy.models import User
from protocols.normalize import plate_key

VEHICLE = "vehicle"
DRIVER = "driver"
"""Entity names in the audit trail."""
VEHICLES = Entity(Vehicle, entity=VEHICLE, what="vehicle", not_found=VehicleNotFound)
DRIVERS = Entity(Driver, entity=DRIVER, what="driver", not_found=DriverNotFound)


# --- vehicles ----------------------------------------------------------------------------


def _legacy_fields(plate: str | None, fields: Mapping[str, Any]) -> VehicleCreate:
    """The keyword form of ``create_vehicle`` (``plate=..., kind=..., customer_id=...``) that
    seeds and tests use. A ``kind`` from before issue 9 that says what the vehicle is
    (``kipper``) becomes its ``vehicle_type``; whose it is then follows from ``customer_id``
    (migration 0009 does the same for stored rows)."""
    values = dict(fields, plate=plate)
    kind = values.get("kind")
    if kind is None or kind not in VEHICLE_KINDS:
        if kind is not None and values.get("vehicle_type") is None:
            values["vehicle_type"] = kind
        values["kind"] = "customer_vehicle" if values.get("customer_id") else "truck"
    return VehicleCreate.model_validate(values)


def _check_vehicle(
    session: Session,
    *,
    tenant_id: int,
    state: Mapping[str, Any],
    changed: Set[str],
    vehicle_id: int | None,
) -> None:
    """The rules over all of a vehicle's fields (``state``: after a create or a patch);
    references are checked where they were sent (``changed``)."""
    if "customer_id" in changed:
        resolve_optional(
            session, Customer, field="customer_id", id_=state["customer_id"], tenant_id=tenant_id
        )
    if state["kind"] == "customer_vehicle" and state["customer_id"] is None:
        raise VehicleInvalid("customer_id: a customer vehicle needs its customer")
    if state["kind"] == "truck" and state["customer_id"] is not None:
        raise VehicleInvalid(
            "customer_id: only a customer_vehicle belongs to a customer (kind is truck)"
        )
    if state["stored_tare_valid_until"] is not None and state["stored_tare_kg"] is None:
        raise VehicleInvalid("stored_tare_valid_until: there is no stored_tare_kg it applies to")
    if "driver_user_id" in changed and state["driver_user_id"] is not None:
        check_driver_user(
            session, tenant_id=tenant_id, user_id=state["driver_user_id"], field="driver_user_id"
        )
    same_plate = repository.vehicle_with_plate(
        session, tenant_id=tenant_id, key=plate_key(state["plate"])
    )
    if same_plate is not None and same_plate.id != vehicle_id:
        raise VehicleExists(f"plate: vehicle {same_plate.plate} exists (id {same_plate.id})")
    if state["rfid_card"] is not None:
        same_card = repository.vehicle_with_card(
            session, tenant_id=tenant_id, rfid_card=state["rfid_card"]
        )
        if same_card is not None and same_card.id != vehicle_id:
            raise VehicleExists(
                f"rfid_card: card {state['rfid_card']} is on vehicle {same_card.plate}"
            )


def check_driver_user(session: Session, *, tenant_id: int, user_id: int, field: str) -> User:
    """An active user of the tenant with the driver role, else 422 naming ``field``."""
    user = resolve(session, User, field=field, id_=user_id, tenant_id=tenant_id)
    if not repository.is_active_driver_user(session, tenant_id=tenant_id, user_id=user_id):
        raise NotADriver(field, user_id)
    return user


def create_vehicle(
    session: Session,
    *,
    tenant_id: int,
    data: VehicleCreate | None = None,
    by_user_id: int | None = None,
    plate: str | None = None,
    **fields: Any,
) -> Vehicle:
    """A new vehicle, audited. Pass ``data`` (API, CSV import), or ``plate`` and model fields
    as keywords (seeds and tests): both are validated by ``VehicleCreate``."""
    if data is None:
        data = _legacy_fields(plate, fields)
    state = data.model_dump()
    _check_vehicle(session, tenant_id=tenant_id, state=state, changed=set(state), vehicle_id=None)
    vehicle = Vehicle(tenant_id=tenant_id, plate_key=plate_key(data.plate), **state)
    return VEHICLES.add(
        session, vehicle, ["plate_key", *state], tenant_id=tenant_id, by_user_id=by_user_id
    )


def get_vehicle(session: Session, *, tenant_id: int, vehicle_id: int) -> Vehicle:
    return VEHICLES.get(session, tenant_id=tenant_id, id_=vehicle_id)


def update_vehicle(
    session: Session,
    *,
    tenant_id: int,
    vehicle_id: int,
    data: VehicleUpdate,
    by_user_id: int | None,
    reason: str | None = None,
) -> Vehicle:
    """Change the fields sent (``is_active=false`` deactivates: vehicles are never deleted)."""
    vehicle, changes, state = VEHICLES.patch(
        session, tenant_id=tenant_id, id_=vehicle_id, data=data, full=VehicleCreate
    )
    _check_vehicle(
        session, tenant_id=tenant_id, state=state, changed=set(changes), vehicle_id=vehicle.id
    )
    if "plate" in changes:
        changes["plate_key"] = plate_key(changes["plate"])
    return VEHICLES.change(
        session, vehicle, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def list_vehicles(
    session: Session,
    *,
    tenant_id: int,
    after: int | None = None,
    limit: int = 50,
    q: str | None = None,
    active: bool | None = None,
    kind: str | None = None,
) -> tuple[list[Vehicle], int | None]:
    """A page of vehicles by id, and the ``after`` of the next page (None: the last)."""
    return VEHICLES.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit,
        search=repository.vehicle_search(q),
        active=active,
        filters={"kind": kind},
    )


def vehicles_read(
    session: Session, *, tenant_id: int, vehicles: Sequence[Vehicle]
) -> list[VehicleRead]:
    """Vehicles as the API shows them, with the devices on each."""
    devices = repository.device_ids(
        session, tenant_id=tenant_id, vehicle_ids=[v.id for v in vehicles]
    )
    return [
        VehicleRead.model_validate(v).model_copy(update={"device_ids": devices.get(v.id, [])})
        for v in vehicles
    ]


def vehicle_history(session: Session, *, tenant_id: int, vehicle_id: int) -> list[FieldChange]:
    return VEHICLES.history(session, tenant_id=tenant_id, id_=vehicle_id)


def find_vehicle(
    session: Session, *, tenant_id: int, rfid_card: str | None, plate: str | None
) -> Vehicle | None:
    """The card identifies a vehicle first (it cannot be mistyped); then the plate."""
    if rfid_card:
        vehicle = repository.vehicle_with_card(session, tenant_id=tenant_id, rfid_card=rfid_card)
        if vehicle is not None:
            return vehicle
    if plate and plate_key(plate):
        return repository.vehicle_with_plate(session, tenant_id=tenant_id, key=plate_key(plate))
    return None


# --- drivers -----------------------------------------------------------------------------


def _check_driver(
    session: Session,
    *,
    tenant_id: int,
    state: Mapping[str, Any],
    changed: Set[str],
    driver_id: int | None,
) -> None:
    if state["user_id"] is None:
        raise DriverInvalid("user_id: the driver's user is gone; link a user with the driver role")
    if "user_id" in changed:
        check_driver_user(session, tenant_id=tenant_id, user_id=state["user_id"], field="user_id")
        other = repository.driver_of_user(session, tenant_id=tenant_id, user_id=state["user_id"])
        if other is not None and other.id != driver_id:
            raise DriverExists(f"user_id: user {state['user_id']} is already driver {other.id}")
    if state["adr_valid_until"] is not None and not state["adr"]:
        raise DriverInvalid("adr_valid_until: the driver has no ADR certificate (adr is false)")


def create_driver(
    session: Session, *, tenant_id: int, data: DriverCreate, by_user_id: int | None
) -> Driver:
    state = data.model_dump()
    _check_driver(session, tenant_id=tenant_id, state=state, changed=set(state), driver_id=None)
    driver = Driver(tenant_id=tenant_id, **state)
    return DRIVERS.add(session, driver, state, tenant_id=tenant_id, by_user_id=by_user_id)


def get_driver(session: Session, *, tenant_id: int, driver_id: int) -> Driver:
    return DRIVERS.get(session, tenant_id=tenant_id, id_=driver_id)


def update_driver(
    session: Session,
    *,
    tenant_id: int,
    driver_id: int,
    data: DriverUpdate,
    by_user_id: int | None,
    reason: str | None = None,
) -> Driver:
    driver, changes, state = DRIVERS.patch(
        session, tenant_id=tenant_id, id_=driver_id, data=data, full=DriverCreate
    )
    _check_driver(
        session, tenant_id=tenant_id, state=state, changed=set(changes), driver_id=driver.id
    )
    return DRIVERS.change(
        session, driver, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def list_drivers(
    session: Session,
    *,
    tenant_id: int,
    after: int | None = None,
    limit: int = 50,
    q: str | None = None,
    active: bool | None = None,
) -> tuple[list[Driver], int | None]:
    return DRIVERS.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit,
        search=repository.driver_search(q),
        active=active,
    )


def drivers_read(drivers: Sequence[Driver]) -> list[DriverRead]:
    return [DriverRead.model_validate(d) for d in drivers]


def driver_history(session: Session, *, tenant_id: int, driver_id: int) -> list[FieldChange]:
    return DRIVERS.history(session, tenant_id=tenant_id, id_=driver_id)
