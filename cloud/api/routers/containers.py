"""Containers (master data) and where each one stands: HTTP only; the rules are in
``cloud.containers``.

Read with ``masterdata.read``, change with ``masterdata.write``. A container of another
tenant is a 404 in the path; a site or vehicle of another tenant in a body is a 422 naming
the field. Nothing is deleted: ``is_active: false`` deactivates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.audit.schemas import FieldChangeRead
from cloud.containers import service
from cloud.containers.schemas import (
    ContainerCreate,
    ContainerPage,
    ContainerRead,
    ContainerUpdate,
    LocationKind,
)
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID, NoNul

router = APIRouter(prefix="/api/v1/containers", tags=["containers"])

Reader = Annotated[Principal, Depends(allowed(Action.MASTERDATA_READ))]
Writer = Annotated[Principal, Depends(allowed(Action.MASTERDATA_WRITE))]


@router.get("", response_model=ContainerPage)
def list_containers(
    session: DbSession,
    principal: Reader,
    q: Annotated[
        Annotated[str, NoNul] | None,
        Query(min_length=1, max_length=100, description="part of the number, type or tag"),
    ] = None,
    active: Annotated[
        bool | None, Query(description="only active (true) or inactive (false)")
    ] = None,
    site_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="what stands at this site now")
    ] = None,
    vehicle_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="what is on this vehicle now")
    ] = None,
    location_kind: Annotated[LocationKind | None, Query()] = None,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the next_after of the previous page")
    ] = None,
    limit: Limit = 50,
) -> ContainerPage:
    rows, next_after = service.list_containers(
        session,
        tenant_id=principal.tenant_id,
        q=q,
        active=active,
        site_id=site_id,
        vehicle_id=vehicle_id,
        location_kind=location_kind,
        after=after,
        limit=limit,
    )
    return ContainerPage(items=service.containers_read(rows), next_after=next_after)


@router.post("", response_model=ContainerRead, status_code=status.HTTP_201_CREATED)
def create_container(body: ContainerCreate, session: DbSession, principal: Writer) -> ContainerRead:
    """A number or RFID tag the tenant already has is a 409; a location that does not add up
    (``site`` without ``site_id``...) a 422."""
    container = service.create_container(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return ContainerRead.model_validate(container)


@router.get("/{container_id}", response_model=ContainerRead)
def get_container(container_id: IdPath, session: DbSession, principal: Reader) -> ContainerRead:
    container = service.get_container(
        session, tenant_id=principal.tenant_id, container_id=container_id
    )
    return ContainerRead.model_validate(container)


@router.patch("/{container_id}", response_model=ContainerRead)
def update_container(
    container_id: IdPath, body: ContainerUpdate, session: DbSession, principal: Writer
) -> ContainerRead:
    """Only the fields sent change; every change is audited. Moving by hand: send
    ``location_kind`` with its ``site_id`` or ``vehicle_id``."""
    container = service.update_container(
        session,
        tenant_id=principal.tenant_id,
        container_id=container_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return ContainerRead.model_validate(container)


@router.get("/{container_id}/history", response_model=list[FieldChangeRead])
def container_history(
    container_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    """Every audited change, oldest first, including the moves made by orders."""
    rows = service.container_history(
        session, tenant_id=principal.tenant_id, container_id=container_id
    )
    return [FieldChangeRead.model_validate(r) for r in rows]
