"""Taking the next number of a series. Never commits."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.numbering.models import NumberSeries

DEFAULT_PREFIX = {"order": "{year}-", "invoice": "F{year}-", "credit_note": "C{year}-"}
"""``{year}`` in a prefix becomes the year the number is taken in."""


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
    """The next number of the tenant's series, e.g. ``2026-000042`` or ``F2026-000042``.

    One ``UPDATE ... RETURNING`` takes the number and locks the row until the caller's
    transaction ends: concurrent callers wait, and a rollback hands the number back
    (gapless). The series is created on first use."""
    take = (
        update(NumberSeries)
        .where(NumberSeries.tenant_id == tenant_id, NumberSeries.purpose == purpose)
        .values(next_value=NumberSeries.next_value + 1)
        .returning(NumberSeries.next_value, NumberSeries.prefix, NumberSeries.width)
    )
    row = session.execute(take).one_or_none()
    if row is None:
        ensure_series(session, tenant_id=tenant_id, purpose=purpose)
        row = session.execute(take).one()
    after, prefix, width = row
    prefix = prefix.replace("{year}", str(year if year is not None else utcnow().year))
    return f"{prefix}{after - 1:0{width}d}"
