"""Materials and waste streams (afvalstroomnummers): master data (audited) and the check an
order's afvalstroomnummer must pass. Never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from cloud.articles.models import Article
from cloud.audit.models import FieldChange
from cloud.crud import Entity
from cloud.customers.models import Customer, Site
from cloud.materials import repository
from cloud.materials.errors import (
    MaterialExists,
    MaterialNotFound,
    WasteStreamExists,
    WasteStreamInvalid,
    WasteStreamNotFound,
    WasteStreamNotValid,
)
from cloud.materials.models import Material, WasteStream
from cloud.materials.schemas import (
    MaterialCreate,
    MaterialRead,
    MaterialUpdate,
    WasteStreamCreate,
    WasteStreamRead,
    WasteStreamUpdate,
    is_hazardous,
)
from cloud.references import resolve, resolve_optional

MATERIAL = "material"
WASTE_STREAM = "waste_stream"
"""Entity names in the audit trail."""
MATERIALS = Entity(Material, entity=MATERIAL, what="material", not_found=MaterialNotFound)
WASTE_STREAMS = Entity(
    WasteStream, entity=WASTE_STREAM, what="waste stream", not_found=WasteStreamNotFound
)

PROCESSOR = "processor"
"""``Site.kind`` of a processor (verwerker), which has a ``processor_number``."""

# --- materials ---------------------------------------------------------------------------


def _check_material(
    session: Session,
    *,
    tenant_id: int,
    state: Mapping[str, Any],
    changed: Set[str],
    material_id: int | None,
) -> None:
    if "article_id" in changed:
        resolve_optional(
            session, Article, field="article_id", id_=state["article_id"], tenant_id=tenant_id
        )
    if "code" in changed:
        same = repository.material_with_code(session, tenant_id=tenant_id, code=state["code"])
        if same is not None and same.id != material_id:
            raise MaterialExists(f"code: material {state['code']} exists (id {same.id})")


def create_material(
    session: Session, *, tenant_id: int, data: MaterialCreate, by_user_id: int | None
) -> Material:
    """A new material; ``hazardous`` follows from its Eural code."""
    state = data.model_dump()
    _check_material(session, tenant_id=tenant_id, state=state, changed=set(state), material_id=None)
    state["hazardous"] = is_hazardous(state["eural_code"])
    material = Material(tenant_id=tenant_id, **state)
    return MATERIALS.add(session, material, state, tenant_id=tenant_id, by_user_id=by_user_id)


def get_material(session: Session, *, tenant_id: int, material_id: int) -> Material:
    return MATERIALS.get(session, tenant_id=tenant_id, id_=material_id)


def update_material(
    session: Session,
    *,
    tenant_id: int,
    material_id: int,
    data: MaterialUpdate,
    by_user_id: int | None,
    reason: str | None = None,
) -> Material:
    material, changes, state = MATERIALS.patch(
        session, tenant_id=tenant_id, id_=material_id, data=data, full=MaterialCreate
    )
    _check_material(
        session, tenant_id=tenant_id, state=state, changed=set(changes), material_id=material.id
    )
    if "eural_code" in changes:
        changes["hazardous"] = is_hazardous(changes["eural_code"])
    return MATERIALS.change(
        session, material, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def list_materials(
    session: Session,
    *,
    tenant_id: int,
    after: int | None = None,
    limit: int = 50,
    q: str | None = None,
    active: bool | None = None,
    hazardous: bool | None = None,
) -> tuple[list[Material], int | None]:
    """A page of materials by id, and the ``after`` of the next page (None: the last)."""
    return MATERIALS.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit,
        search=repository.material_search(q),
        active=active,
        filters={"hazardous": hazardous},
    )


def materials_read(materials: Sequence[Material]) -> list[MaterialRead]:
    return [MaterialRead.model_validate(m) for m in materials]


def material_history(session: Session, *, tenant_id: int, material_id: int) -> list[FieldChange]:
    return MATERIALS.history(session, tenant_id=tenant_id, id_=material_id)


# --- waste streams -----------------------------------------------------------------------


def _check_waste_stream(
    session: Session,
    *,
    tenant_id: int,
    state: Mapping[str, Any],
    changed: Set[str],
    waste_stream_id: int | None,
) -> None:
    if "customer_id" in changed:
        resolve(
            session, Customer, field="customer_id", id_=state["customer_id"], tenant_id=tenant_id
        )
    if "material_id" in changed:
        resolve(
            session, Material, field="material_id", id_=state["material_id"], tenant_id=tenant_id
        )
    if changed & {"number", "processor_site_id"}:
        site = resolve(
            session,
            Site,
            field="processor_site_id",
            id_=state["processor_site_id"],
            tenant_id=tenant_id,
        )
        if site.kind != PROCESSOR or not site.processor_number:
            raise WasteStreamInvalid(
                f"processor_site_id: site {site.name} is not a processor with a processor number"
            )
        if state["number"][:5] != site.processor_number:
            raise WasteStreamInvalid(
                f"number: afvalstroomnummer {state['number']} does not start with "
                f"{site.processor_number}, the processor number of {site.name}"
            )
    if state["valid_until"] is not None and state["valid_until"] < state["valid_from"]:
        raise WasteStreamInvalid(
            f"valid_until: {state['valid_until']} is before valid_from {state['valid_from']}"
        )
    if "number" in changed:
        same = repository.waste_stream_with_number(
            session, tenant_id=tenant_id, number=state["number"]
        )
        if same is not None and same.id != waste_stream_id:
            raise WasteStreamExists(
                f"number: afvalstroomnummer {state['number']} exists (id {same.id})"
            )


def create_waste_stream(
    session: Session, *, tenant_id: int, data: WasteStreamCreate, by_user_id: int | None
) -> WasteStream:
    state = data.model_dump()
    _check_waste_stream(
        session, tenant_id=tenant_id, state=state, changed=set(state), waste_stream_id=None
    )
    stream = WasteStream(tenant_id=tenant_id, **state)
    return WASTE_STREAMS.add(session, stream, state, tenant_id=tenant_id, by_user_id=by_user_id)


def get_waste_stream(session: Session, *, tenant_id: int, waste_stream_id: int) -> WasteStream:
    return WASTE_STREAMS.get(session, tenant_id=tenant_id, id_=waste_stream_id)


def update_waste_stream(
    session: Session,
    *,
    tenant_id: int,
    waste_stream_id: int,
    data: WasteStreamUpdate,
    by_user_id: int | None,
    reason: str | None = None,
) -> WasteStream:
    stream, changes, state = WASTE_STREAMS.patch(
        session, tenant_id=tenant_id, id_=waste_stream_id, data=data, full=WasteStreamCreate
    )
    _check_waste_stream(
        session, tenant_id=tenant_id, state=state, changed=set(changes), waste_stream_id=stream.id
    )
    return WASTE_STREAMS.change(
        session, stream, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def list_waste_streams(
    session: Session,
    *,
    tenant_id: int,
    after: int | None = None,
    limit: int = 50,
    q: str | None = None,
    active: bool | None = None,
    customer_id: int | None = None,
    material_id: int | None = None,
    processor_site_id: int | None = None,
) -> tuple[list[WasteStream], int | None]:
    """Filter ids must be the tenant's (422 naming the field)."""
    resolve_optional(session, Customer, field="customer_id", id_=customer_id, tenant_id=tenant_id)
    resolve_optional(session, Material, field="material_id", id_=material_id, tenant_id=tenant_id)
    resolve_optional(
        session, Site, field="processor_site_id", id_=processor_site_id, tenant_id=tenant_id
    )
    return WASTE_STREAMS.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit,
        search=repository.waste_stream_search(q),
        active=active,
        filters={
            "customer_id": customer_id,
            "material_id": material_id,
            "processor_site_id": processor_site_id,
        },
    )


def waste_streams_read(streams: Sequence[WasteStream]) -> list[WasteStreamRead]:
    return [WasteStreamRead.model_validate(s) for s in streams]


def waste_stream_history(
    session: Session, *, tenant_id: int, waste_stream_id: int
) -> list[FieldChange]:
    return WASTE_STREAMS.history(session, tenant_id=tenant_id, id_=waste_stream_id)


def check_waste_stream(
    session: Session,
    *,
    tenant_id: int,
    waste_stream_id: int,
    customer_id: int,
    material_id: int | None,
    on: date | None,
) -> WasteStream:
    """The afvalstroomnummer an order names, if it fits the order: active, this customer's,
    for this material (when the order names one) and valid on ``on`` (when given). Otherwise
    ``WasteStreamNotValid`` with every mismatch, in words a planner understands. Another
    tenant's id: ``UnknownReference`` on ``waste_stream_id``."""
    stream = resolve(
        session, WasteStream, field="waste_stream_id", id_=waste_stream_id, tenant_id=tenant_id
    )
    name = f"afvalstroomnummer {stream.number}"
    reasons = []
    if not stream.is_active:
        reasons.append(f"{name} is inactive")
    if stream.customer_id != customer_id:
        owner = repository.customer_label(
            session, tenant_id=tenant_id, customer_id=stream.customer_id
        )
        other = repository.customer_label(session, tenant_id=tenant_id, customer_id=customer_id)
        reasons.append(f"{name} belongs to customer {owner}, not to {other}")
    if material_id is not None and stream.material_id != material_id:
        mine = repository.material_label(
            session, tenant_id=tenant_id, material_id=stream.material_id
        )
        other = repository.material_label(session, tenant_id=tenant_id, material_id=material_id)
        reasons.append(f"{name} is for material {mine}, not {other}")
    if on is not None and not (
        stream.valid_from <= on and (stream.valid_until is None or on <= stream.valid_until)
    ):
        until = f"to {stream.valid_until}" if stream.valid_until else "without end"
        reasons.append(f"{name} is valid from {stream.valid_from} {until}, not on {on}")
    if reasons:
        raise WasteStreamNotValid(reasons)
    return stream
