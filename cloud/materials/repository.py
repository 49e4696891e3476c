"""Every material and waste stream query; all scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cloud.customers.models import Customer
from cloud.materials.models import Material, WasteStream


def get_material(session: Session, *, tenant_id: int, material_id: int) -> Material | None:
    return session.scalar(
        select(Material).where(Material.tenant_id == tenant_id, Material.id == material_id)
    )


def material_with_code(session: Session, *, tenant_id: int, code: str) -> Material | None:
    return session.scalar(
        select(Material).where(Material.tenant_id == tenant_id, Material.code == code)
    )


def materials_page(
    session: Session,
    *,
    tenant_id: int,
    after: int | None,
    limit: int,
    q: str | None = None,
    active: bool | None = None,
    hazardous: bool | None = None,
) -> Sequence[Material]:
    """Keyset paging by id: the ``limit`` materials after ``after``."""
    stmt = select(Material).where(Material.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(Material.id > after)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Material.code).contains(needle, autoescape=True),
                func.lower(Material.description).contains(needle, autoescape=True),
                Material.eural_code.contains("".join(needle.split()), autoescape=True),
            )
        )
    if active is not None:
        stmt = stmt.where(Material.is_active.is_(active))
    if hazardous is not None:
        stmt = stmt.where(Material.hazardous.is_(hazardous))
    return session.scalars(stmt.order_by(Material.id).limit(limit)).all()


def get_waste_stream(
    session: Session, *, tenant_id: int, waste_stream_id: int
) -> WasteStream | None:
    return session.scalar(
        select(WasteStream).where(
            WasteStream.tenant_id == tenant_id, WasteStream.id == waste_stream_id
        )
    )


def waste_stream_with_number(
    session: Session, *, tenant_id: int, number: str
) -> WasteStream | None:
    return session.scalar(
        select(WasteStream).where(WasteStream.tenant_id == tenant_id, WasteStream.number == number)
    )


def waste_streams_page(
    session: Session,
    *,
    tenant_id: int,
    after: int | None,
    limit: int,
    q: str | None = None,
    active: bool | None = None,
    customer_id: int | None = None,
    material_id: int | None = None,
    processor_site_id: int | None = None,
) -> Sequence[WasteStream]:
    stmt = select(WasteStream).where(WasteStream.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(WasteStream.id > after)
    if q:
        stmt = stmt.where(WasteStream.number.contains("".join(q.upper().split()), autoescape=True))
    if active is not None:
        stmt = stmt.where(WasteStream.is_active.is_(active))
    if customer_id is not None:
        stmt = stmt.where(WasteStream.customer_id == customer_id)
    if material_id is not None:
        stmt = stmt.where(WasteStream.material_id == material_id)
    if processor_site_id is not None:
        stmt = stmt.where(WasteStream.processor_site_id == processor_site_id)
    return session.scalars(stmt.order_by(WasteStream.id).limit(limit)).all()


def customer_label(session: Session, *, tenant_id: int, customer_id: int) -> str:
    """``1001 Bouwbedrijf Jansen`` (number and name) for messages; the id if unknown."""
    row = session.execute(
        select(Customer.number, Customer.name).where(
            Customer.tenant_id == tenant_id, Customer.id == customer_id
        )
    ).first()
    return f"{row.number} {row.name}" if row else str(customer_id)


def material_label(session: Session, *, tenant_id: int, material_id: int) -> str:
    row = session.execute(
        select(Material.code, Material.description).where(
            Material.tenant_id == tenant_id, Material.id == material_id
        )
    ).first()
    return f"{row.code} {row.description}" if row else str(material_id)
