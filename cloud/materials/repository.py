"""Every material and waste stream query; all scoped by tenant."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.crud import contains, find_in_tenant
from cloud.customers.models import Customer
from cloud.materials.models import Material, WasteStream


def material_with_code(session: Session, *, tenant_id: int, code: str) -> Material | None:
    return find_in_tenant(session, Material, tenant_id=tenant_id, code=code)


def material_search(q: str | None) -> list[ColumnElement[bool]]:
    """What a material search ``q`` matches: the code, the description or the Eural code
    (written with or without spaces)."""
    if not q:
        return []
    return [
        contains(Material.code, q),
        contains(Material.description, q),
        Material.eural_code.contains("".join(q.lower().split()), autoescape=True),
    ]


def waste_stream_with_number(
    session: Session, *, tenant_id: int, number: str
) -> WasteStream | None:
    return find_in_tenant(session, WasteStream, tenant_id=tenant_id, number=number)


def waste_stream_search(q: str | None) -> list[ColumnElement[bool]]:
    """A waste stream search ``q`` matches the afvalstroomnummer (any case, any spaces)."""
    if not q:
        return []
    return [WasteStream.number.contains("".join(q.upper().split()), autoescape=True)]


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
