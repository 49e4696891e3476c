"""Articles for billing (master data): HTTP only; the rules are in ``cloud.articles``.

Read with ``masterdata.read``, change with ``masterdata.write``. An article of another tenant
is a 404. Nothing is deleted: ``is_active: false`` deactivates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.articles import service
from cloud.articles.schemas import (
    ArticleCreate,
    ArticlePage,
    ArticleRead,
    ArticleUpdate,
)
from cloud.audit.schemas import FieldChangeRead
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID, NoNul

router = APIRouter(prefix="/api/v1/articles", tags=["articles"])

Reader = Annotated[Principal, Depends(allowed(Action.MASTERDATA_READ))]
Writer = Annotated[Principal, Depends(allowed(Action.MASTERDATA_WRITE))]


@router.get("", response_model=ArticlePage)
def list_articles(
    session: DbSession,
    principal: Reader,
    q: Annotated[
        Annotated[str, NoNul] | None,
        Query(min_length=1, max_length=100, description="part of the code, name or ledger"),
    ] = None,
    active: Annotated[
        bool | None, Query(description="only active (true) or inactive (false)")
    ] = None,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the next_after of the previous page")
    ] = None,
    limit: Limit = 50,
) -> ArticlePage:
    rows, next_after = service.list_articles(
        session, tenant_id=principal.tenant_id, q=q, active=active, after=after, limit=limit
    )
    return ArticlePage(items=service.articles_read(rows), next_after=next_after)


@router.post("", response_model=ArticleRead, status_code=status.HTTP_201_CREATED)
def create_article(body: ArticleCreate, session: DbSession, principal: Writer) -> ArticleRead:
    """A code the tenant already has is a 409; a VAT rate that does not fit the category
    (S: 21 or 9, the others 0) a 422."""
    article = service.create_article(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return ArticleRead.model_validate(article)


@router.get("/{article_id}", response_model=ArticleRead)
def get_article(article_id: IdPath, session: DbSession, principal: Reader) -> ArticleRead:
    article = service.get_article(session, tenant_id=principal.tenant_id, article_id=article_id)
    return ArticleRead.model_validate(article)


@router.patch("/{article_id}", response_model=ArticleRead)
def update_article(
    article_id: IdPath, body: ArticleUpdate, session: DbSession, principal: Writer
) -> ArticleRead:
    """Only the fields sent change; every change is audited."""
    article = service.update_article(
        session,
        tenant_id=principal.tenant_id,
        article_id=article_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return ArticleRead.model_validate(article)


@router.get("/{article_id}/history", response_model=list[FieldChangeRead])
def article_history(
    article_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    rows = service.article_history(session, tenant_id=principal.tenant_id, article_id=article_id)
    return [FieldChangeRead.model_validate(r) for r in rows]
