"""Every article query; all scoped by tenant."""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from cloud.articles.models import Article
from cloud.crud import contains, find_in_tenant


def with_code(session: Session, *, tenant_id: int, code: str) -> Article | None:
    return find_in_tenant(session, Article, tenant_id=tenant_id, code=code)


def search(q: str | None) -> list[ColumnElement[bool]]:
    """What an article search ``q`` matches: the code, the name or the ledger code."""
    if not q:
        return []
    return [contains(column, q) for column in (Article.code, Article.name, Article.ledger_code)]
