"""The natural keys an import refers to or must not repeat, loaded once per file (one query
each, never one per row). Read-only, scoped by tenant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.articles.models import Article
from cloud.containers.models import Container
from cloud.fleet.models import Driver, Vehicle
from cloud.materials.models import Material, WasteStream
from cloud.tenancy.models import User


def vehicle_ids_by_plate_key(session: Session, *, tenant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Vehicle.plate_key, Vehicle.id).where(Vehicle.tenant_id == tenant_id)
    )
    return {key: id_ for key, id_ in rows}


def vehicle_cards(session: Session, *, tenant_id: int) -> set[str]:
    return {
        card
        for card in session.scalars(
            select(Vehicle.rfid_card).where(
                Vehicle.tenant_id == tenant_id, Vehicle.rfid_card.is_not(None)
            )
        )
        if card is not None
    }


def user_ids_by_email(session: Session, *, tenant_id: int) -> dict[str, int]:
    rows = session.execute(select(User.email, User.id).where(User.tenant_id == tenant_id))
    return {email.lower(): id_ for email, id_ in rows}


def driver_user_ids(session: Session, *, tenant_id: int) -> set[str]:
    """Users who are a driver already (one driver per user), as text keys."""
    rows = session.scalars(
        select(Driver.user_id).where(Driver.tenant_id == tenant_id, Driver.user_id.is_not(None))
    )
    return {str(user_id) for user_id in rows}


def container_numbers(session: Session, *, tenant_id: int) -> set[str]:
    return set(session.scalars(select(Container.number).where(Container.tenant_id == tenant_id)))


def container_tags(session: Session, *, tenant_id: int) -> set[str]:
    return {
        tag
        for tag in session.scalars(
            select(Container.rfid_tag).where(
                Container.tenant_id == tenant_id, Container.rfid_tag.is_not(None)
            )
        )
        if tag is not None
    }


def material_ids_by_code(session: Session, *, tenant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Material.code, Material.id).where(Material.tenant_id == tenant_id)
    )
    return {code: id_ for code, id_ in rows}


def article_ids_by_code(session: Session, *, tenant_id: int) -> dict[str, int]:
    rows = session.execute(select(Article.code, Article.id).where(Article.tenant_id == tenant_id))
    return {code: id_ for code, id_ in rows}


def waste_stream_numbers(session: Session, *, tenant_id: int) -> set[str]:
    return set(
        session.scalars(select(WasteStream.number).where(WasteStream.tenant_id == tenant_id))
    )
