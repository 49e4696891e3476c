"""Materials and waste streams (afvalstroomnummers): HTTP only; the rules are in
``cloud.materials``.

Read with ``masterdata.read``, change with ``masterdata.write``. A material or waste stream of
another tenant is a 404 in the path; a customer, site, material or article of another tenant
in a body is a 422 naming the field. Nothing is deleted: ``is_active: false`` deactivates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.audit.schemas import FieldChangeRead
from cloud.materials import service
from cloud.materials.schemas import (
    MaterialCreate,
    MaterialPage,
    MaterialRead,
    MaterialUpdate,
    WasteStreamCreate,
    WasteStreamPage,
    WasteStreamRead,
    WasteStreamUpdate,
)
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID, NoNul

router = APIRouter(prefix="/api/v1", tags=["materials"])

Reader = Annotated[Principal, Depends(allowed(Action.MASTERDATA_READ))]
Writer = Annotated[Principal, Depends(allowed(Action.MASTERDATA_WRITE))]
After = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="the next_after of the previous page")
]
Active = Annotated[bool | None, Query(description="only active (true) or inactive (false)")]
RowId = Annotated[int | None, Query(ge=1, le=MAX_ID)]


# -- materials ----------------------------------------------------------------------------


@router.get("/materials", response_model=MaterialPage)
def list_materials(
    session: DbSession,
    principal: Reader,
    q: Annotated[
        Annotated[str, NoNul] | None,
        Query(min_length=1, max_length=100, description="part of the code, description or Eural"),
    ] = None,
    active: Active = None,
    hazardous: Annotated[bool | None, Query(description="Eural code with '*'")] = None,
    after: After = None,
    limit: Limit = 50,
) -> MaterialPage:
    rows, next_after = service.list_materials(
        session,
        tenant_id=principal.tenant_id,
        q=q,
        active=active,
        hazardous=hazardous,
        after=after,
        limit=limit,
    )
    return MaterialPage(items=service.materials_read(rows), next_after=next_after)


@router.post("/materials", response_model=MaterialRead, status_code=status.HTTP_201_CREATED)
def create_material(body: MaterialCreate, session: DbSession, principal: Writer) -> MaterialRead:
    """``eural_code`` as six digits, ``*`` when hazardous (``17 09 04`` is read as
    ``170904``); ``hazardous`` follows from it. A code the tenant already has is a 409."""
    material = service.create_material(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return MaterialRead.model_validate(material)


@router.get("/materials/{material_id}", response_model=MaterialRead)
def get_material(material_id: IdPath, session: DbSession, principal: Reader) -> MaterialRead:
    material = service.get_material(session, tenant_id=principal.tenant_id, material_id=material_id)
    return MaterialRead.model_validate(material)


@router.patch("/materials/{material_id}", response_model=MaterialRead)
def update_material(
    material_id: IdPath, body: MaterialUpdate, session: DbSession, principal: Writer
) -> MaterialRead:
    """Only the fields sent change; every change is audited."""
    material = service.update_material(
        session,
        tenant_id=principal.tenant_id,
        material_id=material_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return MaterialRead.model_validate(material)


@router.get("/materials/{material_id}/history", response_model=list[FieldChangeRead])
def material_history(
    material_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    rows = service.material_history(session, tenant_id=principal.tenant_id, material_id=material_id)
    return [FieldChangeRead.model_validate(r) for r in rows]


# -- waste streams ------------------------------------------------------------------------


@router.get("/waste-streams", response_model=WasteStreamPage)
def list_waste_streams(
    session: DbSession,
    principal: Reader,
    q: Annotated[
        Annotated[str, NoNul] | None,
        Query(min_length=1, max_length=100, description="part of the afvalstroomnummer"),
    ] = None,
    active: Active = None,
    customer_id: RowId = None,
    material_id: RowId = None,
    processor_site_id: RowId = None,
    after: After = None,
    limit: Limit = 50,
) -> WasteStreamPage:
    rows, next_after = service.list_waste_streams(
        session,
        tenant_id=principal.tenant_id,
        q=q,
        active=active,
        customer_id=customer_id,
        material_id=material_id,
        processor_site_id=processor_site_id,
        after=after,
        limit=limit,
    )
    return WasteStreamPage(items=service.waste_streams_read(rows), next_after=next_after)


@router.post("/waste-streams", response_model=WasteStreamRead, status_code=status.HTTP_201_CREATED)
def create_waste_stream(
    body: WasteStreamCreate, session: DbSession, principal: Writer
) -> WasteStreamRead:
    """``number``: 12 positions, the first five the processor number of
    ``processor_site_id`` (a site of kind processor); otherwise 422. A number the tenant
    already has is a 409."""
    stream = service.create_waste_stream(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return WasteStreamRead.model_validate(stream)


@router.get("/waste-streams/{waste_stream_id}", response_model=WasteStreamRead)
def get_waste_stream(
    waste_stream_id: IdPath, session: DbSession, principal: Reader
) -> WasteStreamRead:
    stream = service.get_waste_stream(
        session, tenant_id=principal.tenant_id, waste_stream_id=waste_stream_id
    )
    return WasteStreamRead.model_validate(stream)


@router.patch("/waste-streams/{waste_stream_id}", response_model=WasteStreamRead)
def update_waste_stream(
    waste_stream_id: IdPath, body: WasteStreamUpdate, session: DbSession, principal: Writer
) -> WasteStreamRead:
    """Only the fields sent change; every change is audited."""
    stream = service.update_waste_stream(
        session,
        tenant_id=principal.tenant_id,
        waste_stream_id=waste_stream_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return WasteStreamRead.model_validate(stream)


@router.get("/waste-streams/{waste_stream_id}/history", response_model=list[FieldChangeRead])
def waste_stream_history(
    waste_stream_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    rows = service.waste_stream_history(
        session, tenant_id=principal.tenant_id, waste_stream_id=waste_stream_id
    )
    return [FieldChangeRead.model_validate(r) for r in rows]
