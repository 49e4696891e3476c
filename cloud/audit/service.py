"""Recording and reading field changes. Never commits."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from cloud.audit.models import FieldChange
from cloud.db import utcnow


def as_text(value: Any) -> str | None:
    """The stored form of a value: ISO dates, plain decimals, JSON for lists and dicts."""
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral() else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def apply_changes(
    session: Session,
    obj: Any,
    changes: Mapping[str, Any],
    *,
    tenant_id: int,
    entity: str,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    reason: str | None = None,
) -> list[FieldChange]:
    """Set each attribute of ``obj`` that really changes, and record one row per field."""
    rows = []
    for field, new in changes.items():
        old = getattr(obj, field)
        if as_text(old) == as_text(new):
            continue
        setattr(obj, field, new)
        rows.append(
            FieldChange(
                tenant_id=tenant_id,
                entity=entity,
                entity_id=obj.id,
                field=field,
                old_value=as_text(old),
                new_value=as_text(new),
                by_user_id=by_user_id,
                by_device_id=by_device_id,
                reason=reason,
            )
        )
    session.add_all(rows)
    return rows


def record_created(
    session: Session,
    obj: Any,
    fields: Iterable[str],
    *,
    tenant_id: int,
    entity: str,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    reason: str | None = None,
) -> None:
    """A new entity: its set fields, from nothing. ``obj`` must be flushed (has an id).
    One multi-row INSERT of plain rows (no ORM objects): the audit of a new order is a
    dozen rows, and it is written while the order's number series is locked."""
    record_rows(
        session,
        created_rows(
            obj,
            fields,
            tenant_id=tenant_id,
            entity=entity,
            by_user_id=by_user_id,
            by_device_id=by_device_id,
            reason=reason,
        ),
    )


def created_rows(
    obj: Any,
    fields: Iterable[str],
    *,
    tenant_id: int,
    entity: str,
    by_user_id: int | None = None,
    by_device_id: str | None = None,
    reason: str | None = None,
) -> list[dict[str, Any]]:
    """What ``record_created`` records, as rows for ``record_rows``: several new entities
    of one request (a customer and its site) are then audited in one INSERT."""
    at = utcnow()
    return [
        {
            "tenant_id": tenant_id,
            "entity": entity,
            "entity_id": obj.id,
            "field": f,
            "old_value": None,
            "new_value": text,
            "at": at,
            "by_user_id": by_user_id,
            "by_device_id": by_device_id,
            "reason": reason,
        }
        for f in fields
        if (text := as_text(getattr(obj, f))) is not None
    ]


def record_rows(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert field-change rows (``created_rows``) in one statement."""
    if rows:
        session.execute(insert(FieldChange), list(rows))


def history(
    session: Session, *, tenant_id: int, entity: str, entity_id: int, limit: int = 500
) -> list[FieldChange]:
    """The newest ``limit`` changes of the entity, oldest first (a long history loses its
    beginning, never its latest changes)."""
    newest = session.scalars(
        select(FieldChange)
        .where(
            FieldChange.tenant_id == tenant_id,
            FieldChange.entity == entity,
            FieldChange.entity_id == entity_id,
        )
        .order_by(FieldChange.id.desc())
        .limit(limit)
    ).all()
    return list(reversed(newest))
