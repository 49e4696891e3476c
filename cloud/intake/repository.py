"""Every query of the intake channels; all are scoped by tenant (and customer, for the
portal)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cloud.customers.models import Site
from cloud.db import utcnow
from cloud.documents.models import Document
from cloud.intake.models import WebhookDelivery, WebhookSecret
from cloud.materials.models import Material
from cloud.tenancy.models import Tenant
from cloud.tenancy.repository import lock_tenant
from cloud.weighings.models import Weighing


def tenant_and_secrets(
    session: Session, *, slug: str, now: datetime
) -> tuple[int | None, list[str]]:
    """The tenant of the slug and its secrets that still verify (the current one and, for a
    day after a rotation, the one before it), newest first, in one query. An unknown slug:
    ``(None, [])`` after the same work."""
    rows = session.execute(
        select(Tenant.id, WebhookSecret.secret)
        .select_from(Tenant)
        .outerjoin(
            WebhookSecret,
            and_(
                WebhookSecret.tenant_id == Tenant.id,
                or_(WebhookSecret.expires_at.is_(None), WebhookSecret.expires_at > now),
            ),
        )
        .where(Tenant.slug == slug)
        .order_by(WebhookSecret.id.desc())
    ).all()
    if not rows:
        return None, []
    return rows[0][0], [secret for _, secret in rows if secret is not None]


def current_secrets(session: Session, *, tenant_id: int) -> Sequence[WebhookSecret]:
    """Secrets without an expiry (normally one), locked: a rotation or a first secret is
    made by one caller at a time (on PostgreSQL; SQLite serialises writers anyway). The
    tenant's row is locked first: ``FOR UPDATE`` on no secret at all would lock nothing, and
    two first callers would each make a current secret."""
    lock_tenant(session, tenant_id=tenant_id)
    return session.scalars(
        select(WebhookSecret)
        .where(WebhookSecret.tenant_id == tenant_id, WebhookSecret.expires_at.is_(None))
        .order_by(WebhookSecret.id.desc())
        .with_for_update()
    ).all()


def delivery(session: Session, *, tenant_id: int, webhook_id: str) -> WebhookDelivery | None:
    return session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.webhook_id == webhook_id
        )
    )


def claim_delivery(session: Session, *, tenant_id: int, webhook_id: str) -> int | None:
    """Insert the delivery's row unless its ``webhook-id`` has one; its id, or None when
    another delivery has it. One statement (``ON CONFLICT DO NOTHING``): a concurrent
    delivery of the same id waits here until the first commits (PostgreSQL), then gets
    None."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(WebhookDelivery)
        .values(
            tenant_id=tenant_id,
            webhook_id=webhook_id,
            received_at=utcnow(),
            status_code=201,
            response={},
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "webhook_id"])
        .returning(WebhookDelivery.id)
    )
    return session.scalar(stmt)


def record_answer(
    session: Session, *, delivery_id: int, status_code: int, response: dict[str, Any], order_id: int
) -> None:
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status_code=status_code, response=response, order_id=order_id)
    )


def material_by_code(session: Session, *, tenant_id: int, code: str) -> Material | None:
    return session.scalar(
        select(Material).where(
            Material.tenant_id == tenant_id, Material.code == code, Material.is_active.is_(True)
        )
    )


def customer_sites(session: Session, *, tenant_id: int, customer_id: int) -> Sequence[Site]:
    return session.scalars(
        select(Site)
        .where(
            Site.tenant_id == tenant_id,
            Site.customer_id == customer_id,
            Site.is_active.is_(True),
        )
        .order_by(Site.id)
    ).all()


def stored_documents(session: Session, *, tenant_id: int, order_id: int) -> Sequence[Document]:
    return session.scalars(
        select(Document)
        .where(
            Document.tenant_id == tenant_id,
            Document.order_id == order_id,
            Document.stored.is_(True),
        )
        .order_by(Document.id)
    ).all()


def order_document(
    session: Session, *, tenant_id: int, order_id: int, document_id: int
) -> Document | None:
    return session.scalar(
        select(Document).where(
            Document.tenant_id == tenant_id,
            Document.order_id == order_id,
            Document.id == document_id,
            Document.stored.is_(True),
        )
    )


def weighings(session: Session, *, tenant_id: int, order_id: int) -> Sequence[Weighing]:
    return session.scalars(
        select(Weighing)
        .where(Weighing.tenant_id == tenant_id, Weighing.order_id == order_id)
        .order_by(Weighing.id)
    ).all()
