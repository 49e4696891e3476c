"""Every article query; all scoped by tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cloud.articles.models import Article


def get(session: Session, *, tenant_id: int, article_id: int) -> Article | None:
    return session.scalar(
        select(Article).where(Article.tenant_id == tenant_id, Article.id == article_id)
    )


def with_code(session: Session, *, tenant_id: int, code: str) -> Article | None:
    return session.scalar(
        select(Article).where(Article.tenant_id == tenant_id, Article.code == code)
    )


def page(
    session: Session,
    *,
    tenant_id: int,
    after: int | None,
    limit: int,
    q: str | None = None,
    active: bool | None = None,
) -> Sequence[Article]:
    """Keyset paging by id: the ``limit`` articles after ``after``."""
    stmt = select(Article).where(Article.tenant_id == tenant_id)
    if after is not None:
        stmt = stmt.where(Article.id > after)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Article.code).contains(needle, autoescape=True),
                func.lower(Article.name).contains(needle, autoescape=True),
                func.lower(Article.ledger_code).contains(needle, autoescape=True),
            )
        )
    if active is not None:
        stmt = stmt.where(Article.is_active.is_(active))
    return session.scalars(stmt.order_by(Article.id).limit(limit)).all()
