"""Every container query; all scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from cloud.containers.models import Container
from cloud.crud import contains, find_in_tenant
from cloud.customers.models import Site
from cloud.fleet.models import Vehicle


def with_number(session: Session, *, tenant_id: int, number: str) -> Container | None:
    return find_in_tenant(session, Container, tenant_id=tenant_id, number=number)


def with_tag(session: Session, *, tenant_id: int, rfid_tag: str) -> Container | None:
    return find_in_tenant(session, Container, tenant_id=tenant_id, rfid_tag=rfid_tag)


def search(q: str | None) -> list[ColumnElement[bool]]:
    """What a container search ``q`` matches: the number, the type or the RFID tag."""
    if not q:
        return []
    return [
        contains(column, q)
        for column in (Container.number, Container.container_type, Container.rfid_tag)
    ]


def standing_at_site(
    session: Session, *, tenant_id: int, site_id: int, exclude_id: int | None = None
) -> Sequence[Container]:
    """The containers recorded at a site now."""
    stmt = select(Container).where(
        Container.tenant_id == tenant_id,
        Container.location_kind == "site",
        Container.site_id == site_id,
    )
    if exclude_id is not None:
        stmt = stmt.where(Container.id != exclude_id)
    return session.scalars(stmt.order_by(Container.id)).all()


def site_name(session: Session, *, tenant_id: int, site_id: int) -> str | None:
    return session.scalar(select(Site.name).where(Site.tenant_id == tenant_id, Site.id == site_id))


def vehicle_plate(session: Session, *, tenant_id: int, vehicle_id: int) -> str | None:
    return session.scalar(
        select(Vehicle.plate).where(Vehicle.tenant_id == tenant_id, Vehicle.id == vehicle_id)
    )
