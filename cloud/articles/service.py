"""Articles for billing: master data, audited. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from cloud.articles import repository
from cloud.articles.errors import ArticleExists, ArticleNotFound, VatRateInvalid
from cloud.articles.models import VAT_RATES, Article
from cloud.articles.schemas import ArticleCreate, ArticleRead, ArticleUpdate
from cloud.audit import service as audit
from cloud.audit.models import FieldChange

ARTICLE = "article"
"""Entity name in the audit trail."""


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
    session.add(article)
    session.flush()
    audit.record_created(
        session, article, list(state), tenant_id=tenant_id, entity=ARTICLE, by_user_id=by_user_id
    )
    return article


def get_article(session: Session, *, tenant_id: int, article_id: int) -> Article:
    article = repository.get(session, tenant_id=tenant_id, article_id=article_id)
    if article is None:
        raise ArticleNotFound(f"article {article_id} not found")
    return article


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
    audit.apply_changes(
        session,
        article,
        changes,
        tenant_id=tenant_id,
        entity=ARTICLE,
        by_user_id=by_user_id,
        reason=reason,
    )
    session.flush()
    return article


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
    rows = list(
        repository.page(
            session, tenant_id=tenant_id, after=after, limit=limit + 1, q=q, active=active
        )
    )
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def articles_read(articles: Sequence[Article]) -> list[ArticleRead]:
    return [ArticleRead.model_validate(a) for a in articles]


def article_history(session: Session, *, tenant_id: int, article_id: int) -> list[FieldChange]:
    get_article(session, tenant_id=tenant_id, article_id=article_id)
    return audit.history(session, tenant_id=tenant_id, entity=ARTICLE, entity_id=article_id)
