"""Resolving references in a payload within the caller's tenant (and customer, where that
applies). Every ``*_id`` a client sends goes through here: a row of another tenant is reported
exactly like a row that does not exist, and names the field."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from cloud.errors import Unprocessable

M = TypeVar("M")


class UnknownReference(Unprocessable):
    """422: the payload names a row the caller cannot see (or may not use there)."""

    def __init__(self, field: str, value: object, why: str = "no such record") -> None:
        super().__init__(f"{field}: {why} ({value!r})")
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
    column, e.g. ``customer_id=...``), or ``UnknownReference`` naming ``field``.

    Read by primary key through the session: a row the request has already loaded (the
    customer an intake matched, the site it picked) costs no query; the tenant and the scope
    are checked on the row, so another tenant's row is refused exactly like a missing one."""
    row = session.get(model, id_)
    if (
        row is None
        or getattr(row, "tenant_id") != tenant_id  # noqa: B009 - any model with a tenant
        or any(getattr(row, column) != value for column, value in scope.items())
    ):
        raise UnknownReference(field, id_)
    return row


def resolve_optional(
    session: Session,
    model: type[M],
    *,
    field: str,
    id_: int | None,
    tenant_id: int,
    **scope: Any,
) -> M | None:
    """``resolve`` for an optional reference: None stays None."""
    if id_ is None:
        return None
    return resolve(session, model, field=field, id_=id_, tenant_id=tenant_id, **scope)


def check_customer_scope(
    *, field: str, id_: int, owner_customer_id: int | None, customer_id: int
) -> None:
    """A row that belongs to a customer (a site, a customer's own vehicle) may only be used
    for that customer; rows of the tenant itself (``owner_customer_id`` None) for anyone."""
    if owner_customer_id is not None and owner_customer_id != customer_id:
        raise UnknownReference(field, id_, "belongs to another customer")
