"""Resolving references in a payload within the caller's tenant (and customer, where that
applies). Every ``*_id`` a client sends goes through here: a row of another tenant is reported
exactly like a row that does not exist, and names the field."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.errors import AppError

M = TypeVar("M")


class UnknownReference(AppError):
    """422: the payload names a row the caller cannot see."""

    status_code = 422

    def __init__(self, field: str, value: object) -> None:
        super().__init__(f"{field}: no such record ({value!r})")
        self.field = field


def resolve(
    session: Session,
    model: type[M],
    *,
    field: str,
    id_: int,
    tenant_id: int,
    **scope: Any,
) -> M:
    """The row of ``model`` with this id in this tenant (and matching every ``scope``
    column, e.g. ``customer_id=...``), or ``UnknownReference`` naming ``field``."""
    stmt = select(model).where(
        model.id == id_,  # type: ignore[attr-defined]
        model.tenant_id == tenant_id,  # type: ignore[attr-defined]
    )
    for column, value in scope.items():
        stmt = stmt.where(getattr(model, column) == value)
    row = session.scalar(stmt)
    if row is None:
        raise UnknownReference(field, id_)
    return row
