"""Queries for customers and sites. Every query is scoped by tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import ColumnElement, Select, Table, and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.crud import find_in_tenant
from cloud.customers.models import Customer, Site


@dataclass(frozen=True)
class Keyset:
    """Where a page starts: after the row with this sort key (``name`` is None when the list
    is sorted by id)."""

    id: int
    name: str | None = None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(q: str, *columns: Any) -> ColumnElement[bool]:
    """One of ``columns`` holds ``q``, in any case (``%`` and ``_`` in it are plain)."""
    pattern = _like(q)
    return or_(*(column.ilike(pattern, escape="\\") for column in columns))


def _after(stmt: Select[Any], model: Any, *, sort: str, after: Keyset | None) -> Select[Any]:
    if sort == "name":
        if after is not None and after.name is not None:
            stmt = stmt.where(
                or_(model.name > after.name, and_(model.name == after.name, model.id > after.id))
            )
        return stmt.order_by(model.name, model.id)
    if after is not None:
        stmt = stmt.where(model.id > after.id)
    return stmt.order_by(model.id)


def customer_by_number(session: Session, *, tenant_id: int, number: str) -> Customer | None:
    return find_in_tenant(session, Customer, tenant_id=tenant_id, number=number)


def customer_ids_by_number(
    session: Session, *, tenant_id: int, numbers: Iterable[str] | None = None
) -> dict[str, int]:
    """``number -> id`` for the tenant's customers (all of them, or these numbers)."""
    stmt = select(Customer.number, Customer.id).where(Customer.tenant_id == tenant_id)
    if numbers is not None:
        stmt = stmt.where(Customer.number.in_(list(numbers)))
    return {number: id_ for number, id_ in session.execute(stmt)}


def customer_numbers(session: Session, *, tenant_id: int) -> set[str]:
    return set(session.scalars(select(Customer.number).where(Customer.tenant_id == tenant_id)))


def page_customers(
    session: Session,
    *,
    tenant_id: int,
    q: str | None,
    active: bool | None,
    needs_review: bool | None,
    sort: str,
    after: Keyset | None,
    limit: int,
) -> list[Customer]:
    stmt = select(Customer).where(Customer.tenant_id == tenant_id)
    if q:
        stmt = stmt.where(_matching(q, Customer.number, Customer.name, Customer.city))
    if active is not None:
        stmt = stmt.where(Customer.is_active.is_(active))
    if needs_review is not None:
        stmt = stmt.where(Customer.needs_review.is_(needs_review))
    stmt = _after(stmt, Customer, sort=sort, after=after)
    return list(session.scalars(stmt.limit(limit)))


def find_for_intake(
    session: Session, *, tenant_id: int, email: str | None, kvk: str | None
) -> Customer | None:
    """The tenant's active customer with this e-mail (contact or invoice, stored in lower
    case) or this KvK number; a match on e-mail wins over one on KvK, then the oldest."""
    conditions: list[ColumnElement[bool]] = []
    if email:
        conditions += [Customer.email == email, Customer.invoice_email == email]
    if kvk:
        conditions.append(Customer.kvk == kvk)
    if not conditions:
        return None
    rows = session.scalars(
        select(Customer)
        .where(Customer.tenant_id == tenant_id, Customer.is_active.is_(True), or_(*conditions))
        .order_by(Customer.id)
        .limit(20)
    ).all()
    by_email = [c for c in rows if email and email in (c.email, c.invoice_email)]
    matches = by_email or list(rows)
    return matches[0] if matches else None


def site_with_processor_number(
    session: Session, *, tenant_id: int, processor_number: str
) -> Site | None:
    return find_in_tenant(session, Site, tenant_id=tenant_id, processor_number=processor_number)


def processor_numbers(session: Session, *, tenant_id: int) -> dict[str, int]:
    """``processor_number -> site id`` for the tenant's sites that have one."""
    rows = session.execute(
        select(Site.processor_number, Site.id).where(
            Site.tenant_id == tenant_id, Site.processor_number.is_not(None)
        )
    )
    return {number: id_ for number, id_ in rows if number is not None}


def page_sites(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int | None,
    kind: str | None,
    q: str | None,
    active: bool | None,
    sort: str,
    after: Keyset | None,
    limit: int,
) -> list[Site]:
    stmt = select(Site).where(Site.tenant_id == tenant_id)
    if customer_id is not None:
        stmt = stmt.where(Site.customer_id == customer_id)
    if kind is not None:
        stmt = stmt.where(Site.kind == kind)
    if q:
        stmt = stmt.where(_matching(q, Site.name, Site.city, Site.street, Site.processor_number))
    if active is not None:
        stmt = stmt.where(Site.is_active.is_(active))
    stmt = _after(stmt, Site, sort=sort, after=after)
    return list(session.scalars(stmt.limit(limit)))


# -- bulk writes (CSV import) ---------------------------------------------------------------


def _defaults(table: Table, given: Iterable[str]) -> dict[str, Any]:
    """Values for the columns a row leaves out that have a Python-side default
    (``created_at``, ``is_cash``...): COPY knows nothing of them. Taken once per batch, so
    the rows of one import share their ``created_at``."""
    out: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.key in given or column.primary_key or default is None:
            continue
        if default.is_scalar:
            out[column.key] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:
            out[column.key] = default.arg(None)  # type: ignore[attr-defined]
    return out


def insert_rows(
    session: Session, model: Any, rows: Sequence[dict[str, Any]], *, ids: bool = True
) -> list[int]:
    """Insert many rows in the session's transaction, fast, and return their new ids in the
    order of ``rows`` (or nothing, with ``ids=False``).

    PostgreSQL: the ids are taken from the table's sequence in one query and the rows sent
    with ``COPY``: tens of thousands of rows per second, where one ``INSERT`` per row (or an
    ORM flush) manages a few hundred. SQLite: an ``executemany`` (in-process, fast enough).
    Python-side column defaults are applied here; the values must already be valid (they
    come from the Create schemas), as no type processing runs on the COPY path."""
    if not rows:
        return []
    table: Table = model.__table__
    extra = _defaults(table, rows[0])
    full = [{**r, **extra} for r in rows]
    keys = list(full[0])
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        if not ids:
            session.execute(insert(table), full)
            return []
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(session.scalars(stmt, full))
    new_ids: list[int] = []
    if ids:
        sequence = func.pg_get_serial_sequence(table.name, "id")
        new_ids = list(
            session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(full)))
            )
        )
    quote = connection.dialect.identifier_preparer.quote
    columns = (["id"] if ids else []) + keys
    copy_sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for i, row in enumerate(full):
                values = [row[k] for k in keys]
                copy.write_row([new_ids[i], *values] if ids else values)
    except psycopg.errors.IntegrityError as exc:
        # COPY runs on the driver's cursor, below SQLAlchemy: give callers the same error an
        # INSERT would raise (a concurrent writer took a key after the file was checked).
        raise IntegrityError(copy_sql, None, exc) from exc
    return new_ids
