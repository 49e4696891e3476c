"""Every container query; all scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cloud.containers.models import Container
from cloud.customers.models import Site
from cloud.fleet.models import Vehicle


def get(session: Session, *, tenant_id: int, container_id: int) -> Container | None:
    return session.scalar(
        select(Container).where(Container.tenant_id == tenant_id, Container.id == container_id)
    )


def with_number(session: Session, *, tenant_id: int, number: str) -> Container | None:
    return session.scalar(
        select(Container).where(Container.tenant_id == tenant_id, Container.number == number)
    )


def with_tag(session: Session, *, tenant_id: int, rfid_tag: str) -> Container | None:
    return session.scalar(
        select(Container).where(Container.tenant_id == tenant_id, Container.rfid_tag == rfid_tag)
    )


def page(
    session: Session,
    *,
    tenant_id: int,
    after: int | None,
    limit: int,
    q: str | None = None,
    active: bool | None = None,
    site_id: int | None = None,
    vehicle_id: int | None = None,
    location_kind: str | None = None,
) -> Sequence[Container]:
    """Keyset paging by id: the ``limit`` containers after ``after``."""
    stmt = select(Container).where(Container.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(Container.id > after)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Container.number).contains(needle, autoescape=True),
                func.lower(Container.container_type).contains(needle, autoescape=True),
                func.lower(Container.rfid_tag).contains(needle, autoescape=True),
            )
        )
    if active is not None:
        stmt = stmt.where(Container.is_active.is_(active))
    if site_id is not None:
        stmt = stmt.where(Container.site_id == site_id)
    if vehicle_id is not None:
        stmt = stmt.where(Container.vehicle_id == vehicle_id)
    if location_kind is not None:
        stmt = stmt.where(Container.location_kind == location_kind)
    return session.scalars(stmt.order_by(Container.id).limit(limit)).all()


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
