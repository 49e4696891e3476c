"""Articles for billing: master data, audited. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from cloud.articles import repository
from cloud.articles.errors import ArticleExists, ArticleNotFound, VatRateInvalid
from cloud.articles.models import VAT_RATES, Article
from cloud.articles.schemas import ArticleCreate, ArticleRead, ArticleUpdate
from cloud.audit.models import FieldChange
from cloud.crud import Entity

ARTICLE = "article"
"""Entity name in the audit trail."""
ARTICLES = Entity(Article, entity=ARTICLE, what="article", not_found=ArticleNotFound)


def vat_rate_for(category: str, rate: Decimal | None, *, current: Decimal | None = None) -> Decimal:
    """The rate an article of ``category`` gets: ``rate`` if sent (and it must fit), else the
    current rate if it fits, else the category's default (S: 21, the others: 0)."""
    allowed = VAT_RATES[category]
    if rate is None:
        return current if current is not None and current in allowed else allowed[0]
    if rate not in allowed:
        rates = " or ".join(format(r.normalize(), "f") for r in allowed)
        raise VatRateInvalid(
            f"vat_rate: {format(rate.normalize(), 'f')} % does not fit VAT category "
            f"{category} (allowed: {rates})"
        )
    return rate


def _check_code(session: Session, *, tenant_id: int, code: str, article_id: int | None) -> None:
    same = repository.with_code(session, tenant_id=tenant_id, code=code)
    if same is not None and same.id != article_id:
        raise ArticleExists(f"code: article {code} exists (id {same.id})")


def create_article(
    session: Session, *, tenant_id: int, data: ArticleCreate, by_user_id: int | None
) -> Article:
    state = data.model_dump()
    state["vat_rate"] = vat_rate_for(data.vat_category, data.vat_rate)
    _check_code(session, tenant_id=tenant_id, code=data.code, article_id=None)
    article = Article(tenant_id=tenant_id, **state)
    return ARTICLES.add(session, article, state, tenant_id=tenant_id, by_user_id=by_user_id)


def get_article(session: Session, *, tenant_id: int, article_id: int) -> Article:
    return ARTICLES.get(session, tenant_id=tenant_id, id_=article_id)


def update_article(
    session: Session,
    *,
    tenant_id: int,
    article_id: int,
    data: ArticleUpdate,
    by_user_id: int | None,
    reason: str | None = None,
) -> Article:
    article = get_article(session, tenant_id=tenant_id, article_id=article_id)
    changes = data.model_dump(exclude_unset=True)
    if "vat_category" in changes or "vat_rate" in changes:
        category = changes.get("vat_category", article.vat_category)
        changes["vat_rate"] = vat_rate_for(
            category, changes.get("vat_rate"), current=article.vat_rate
        )
    if "code" in changes:
        _check_code(session, tenant_id=tenant_id, code=changes["code"], article_id=article.id)
    return ARTICLES.change(
        session, article, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def list_articles(
    session: Session,
    *,
    tenant_id: int,
    after: int | None = None,
    limit: int = 50,
    q: str | None = None,
    active: bool | None = None,
) -> tuple[list[Article], int | None]:
    """A page of articles by id, and the ``after`` of the next page (None: the last)."""
    return ARTICLES.page(
        session,
        tenant_id=tenant_id,
        after=after,
        limit=limit,
        search=repository.search(q),
        active=active,
    )


def articles_read(articles: Sequence[Article]) -> list[ArticleRead]:
    return [ArticleRead.model_validate(a) for a in articles]


def article_history(session: Session, *, tenant_id: int, article_id: int) -> list[FieldChange]:
    return ARTICLES.history(session, tenant_id=tenant_id, id_=article_id)
