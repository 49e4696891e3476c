"""Vehicles and drivers (master data): HTTP only; the rules are in ``cloud.fleet``.

Read with ``masterdata.read``, change with ``masterdata.write``. A vehicle or driver of
another tenant is a 404 in the path; a reference of another tenant in a body is a 422 naming
the field. Nothing is deleted: ``is_active: false`` deactivates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.audit.schemas import FieldChangeRead
from cloud.fleet import service
from cloud.fleet.schemas import (
    DriverCreate,
    DriverPage,
    DriverRead,
    DriverUpdate,
    VehicleCreate,
    VehicleKind,
    VehiclePage,
    VehicleRead,
    VehicleUpdate,
)
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID, NoNul

router = APIRouter(prefix="/api/v1", tags=["fleet"])

Reader = Annotated[Principal, Depends(allowed(Action.MASTERDATA_READ))]
Writer = Annotated[Principal, Depends(allowed(Action.MASTERDATA_WRITE))]
After = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="the next_after of the previous page")
]
Active = Annotated[bool | None, Query(description="only active (true) or inactive (false)")]


# -- vehicles -----------------------------------------------------------------------------


@router.get("/vehicles", response_model=VehiclePage)
def list_vehicles(
    session: DbSession,
    principal: Reader,
    q: Annotated[
        Annotated[str, NoNul] | None,
        Query(min_length=1, max_length=100, description="part of the plate, card or type"),
    ] = None,
    active: Active = None,
    kind: Annotated[VehicleKind | None, Query()] = None,
    after: After = None,
    limit: Limit = 50,
) -> VehiclePage:
    rows, next_after = service.list_vehicles(
        session,
        tenant_id=principal.tenant_id,
        q=q,
        active=active,
        kind=kind,
        after=after,
        limit=limit,
    )
    return VehiclePage(
        items=service.vehicles_read(session, tenant_id=principal.tenant_id, vehicles=rows),
        next_after=next_after,
    )


@router.post("/vehicles", response_model=VehicleRead, status_code=status.HTTP_201_CREATED)
def create_vehicle(body: VehicleCreate, session: DbSession, principal: Writer) -> VehicleRead:
    """A plate or RFID card the tenant already has is a 409."""
    vehicle = service.create_vehicle(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return service.vehicles_read(session, tenant_id=principal.tenant_id, vehicles=[vehicle])[0]


@router.get("/vehicles/{vehicle_id}", response_model=VehicleRead)
def get_vehicle(vehicle_id: IdPath, session: DbSession, principal: Reader) -> VehicleRead:
    vehicle = service.get_vehicle(session, tenant_id=principal.tenant_id, vehicle_id=vehicle_id)
    return service.vehicles_read(session, tenant_id=principal.tenant_id, vehicles=[vehicle])[0]


@router.patch("/vehicles/{vehicle_id}", response_model=VehicleRead)
def update_vehicle(
    vehicle_id: IdPath, body: VehicleUpdate, session: DbSession, principal: Writer
) -> VehicleRead:
    """Only the fields sent change (``null`` clears an optional one); every change is
    audited."""
    vehicle = service.update_vehicle(
        session,
        tenant_id=principal.tenant_id,
        vehicle_id=vehicle_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return service.vehicles_read(session, tenant_id=principal.tenant_id, vehicles=[vehicle])[0]


@router.get("/vehicles/{vehicle_id}/history", response_model=list[FieldChangeRead])
def vehicle_history(
    vehicle_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    """Every audited change, oldest first: who, when, field, old and new value, why."""
    rows = service.vehicle_history(session, tenant_id=principal.tenant_id, vehicle_id=vehicle_id)
    return [FieldChangeRead.model_validate(r) for r in rows]


# -- drivers ------------------------------------------------------------------------------


@router.get("/drivers", response_model=DriverPage)
def list_drivers(
    session: DbSession,
    principal: Reader,
    q: Annotated[
        Annotated[str, NoNul] | None,
        Query(min_length=1, max_length=100, description="part of the name or phone"),
    ] = None,
    active: Active = None,
    after: After = None,
    limit: Limit = 50,
) -> DriverPage:
    rows, next_after = service.list_drivers(
        session, tenant_id=principal.tenant_id, q=q, active=active, after=after, limit=limit
    )
    return DriverPage(items=service.drivers_read(rows), next_after=next_after)


@router.post("/drivers", response_model=DriverRead, status_code=status.HTTP_201_CREATED)
def create_driver(body: DriverCreate, session: DbSession, principal: Writer) -> DriverRead:
    """``user_id``: an active user of the tenant with the driver role (else 422); a user who
    already has a driver record is a 409."""
    driver = service.create_driver(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return DriverRead.model_validate(driver)


@router.get("/drivers/{driver_id}", response_model=DriverRead)
def get_driver(driver_id: IdPath, session: DbSession, principal: Reader) -> DriverRead:
    driver = service.get_driver(session, tenant_id=principal.tenant_id, driver_id=driver_id)
    return DriverRead.model_validate(driver)


@router.patch("/drivers/{driver_id}", response_model=DriverRead)
def update_driver(
    driver_id: IdPath, body: DriverUpdate, session: DbSession, principal: Writer
) -> DriverRead:
    driver = service.update_driver(
        session,
        tenant_id=principal.tenant_id,
        driver_id=driver_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return DriverRead.model_validate(driver)


@router.get("/drivers/{driver_id}/history", response_model=list[FieldChangeRead])
def driver_history(
    driver_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    rows = service.driver_history(session, tenant_id=principal.tenant_id, driver_id=driver_id)
    return [FieldChangeRead.model_validate(r) for r in rows]
