"""Taking the next number of a series. Never commits."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.numbering.models import NumberSeries

DEFAULT_PREFIX = {"order": "{year}-", "invoice": "F{year}-", "credit_note": "C{year}-"}
"""``{year}`` in a prefix becomes the year the number is taken in."""


def _locked(session: Session, *, tenant_id: int, purpose: str) -> NumberSeries | None:
    return session.scalar(
        select(NumberSeries)
        .where(NumberSeries.tenant_id == tenant_id, NumberSeries.purpose == purpose)
        .with_for_update()
    )


def ensure_series(
    session: Session, *, tenant_id: int, purpose: str, prefix: str | None = None, width: int = 6
) -> None:
    """Create the series if it does not exist; a concurrent creator wins quietly."""
    exists = session.scalar(
        select(NumberSeries.id).where(
            NumberSeries.tenant_id == tenant_id, NumberSeries.purpose == purpose
        )
    )
    if exists is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                NumberSeries(
                    tenant_id=tenant_id,
                    purpose=purpose,
                    prefix=DEFAULT_PREFIX.get(purpose, "") if prefix is None else prefix,
                    next_value=1,
                    width=width,
                )
            )
    except IntegrityError:
        pass


def next_number(session: Session, *, tenant_id: int, purpose: str, year: int | None = None) -> str:
    """The next number of the tenant's series, e.g. ``000042`` or ``F000042``.

    ``SELECT ... FOR UPDATE`` holds the row until the caller's transaction ends: concurrent
    callers wait, and a rollback hands the number back (gapless)."""
    series = _locked(session, tenant_id=tenant_id, purpose=purpose)
    if series is None:
        ensure_series(session, tenant_id=tenant_id, purpose=purpose)
        series = _locked(session, tenant_id=tenant_id, purpose=purpose)
        assert series is not None
    value = series.next_value
    session.execute(
        update(NumberSeries).where(NumberSeries.id == series.id).values(next_value=value + 1)
    )
    session.expire(series)
    prefix = series.prefix.replace("{year}", str(year if year is not None else utcnow().year))
    return f"{prefix}{value:0{series.width}d}"
