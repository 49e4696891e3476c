"""What the master data domains (fleet, containers, materials, articles, customers) share:
a row within the tenant or the domain's 404, keyset pages by id, audited creates and updates,
the audit trail of one row. Never commits. Each domain keeps its own errors, messages and
search rules; this module only holds the mechanics they had in common."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.audit.models import FieldChange
from cloud.errors import AppError


class Row(Protocol):
    """A tenant's row with an integer id (``Vehicle``, ``Container``, ``Customer``...)."""

    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=Row)
M = TypeVar("M")


def find_in_tenant(
    session: Session, model: type[M], *, tenant_id: int, **equal: object
) -> M | None:
    """The tenant's ``model`` row whose columns have these values (``code="A1"``), if any."""
    found: M | None = session.scalar(select(model).filter_by(tenant_id=tenant_id, **equal))
    return found


def contains(column: Any, q: str) -> ColumnElement[bool]:
    """``column`` holds ``q``, in any case; ``%`` and ``_`` in ``q`` are plain characters."""
    return func.lower(column).contains(q.lower(), autoescape=True)


def next_after(rows: Sequence[Row], limit: int) -> int | None:
    """The ``after`` of the page behind ``rows`` (fetched with ``limit + 1``); None: the last."""
    return rows[limit - 1].id if len(rows) > limit else None


def merged_state(
    row: object, schema: type[BaseModel], changes: Mapping[str, Any]
) -> dict[str, Any]:
    """All of ``schema``'s fields as they will be after a patch: the row's, then ``changes``."""
    return {f: getattr(row, f) for f in schema.model_fields} | dict(changes)


@dataclass(frozen=True)
class Entity(Generic[T]):
    """One kind of master data row: its model, its name in the audit trail (``entity``) and
    in messages (``what``), and the domain error for an id the tenant does not have."""

    model: type[T]
    entity: str
    what: str
    not_found: type[AppError]

    def find(self, session: Session, *, tenant_id: int, id_: int) -> T | None:
        return find_in_tenant(session, self.model, tenant_id=tenant_id, id=id_)

    def get(self, session: Session, *, tenant_id: int, id_: int) -> T:
        """The tenant's row with this id, else ``not_found`` (``vehicle 7 not found``)."""
        row = self.find(session, tenant_id=tenant_id, id_=id_)
        if row is None:
            raise self.not_found(f"{self.what} {id_} not found")
        return row

    def patch(
        self, session: Session, *, tenant_id: int, id_: int, data: BaseModel, full: type[BaseModel]
    ) -> tuple[T, dict[str, Any], dict[str, Any]]:
        """For an update: the row (else ``not_found``), the fields ``data`` sent, and all of
        ``full``'s fields as they will be (``merged_state``)."""
        row = self.get(session, tenant_id=tenant_id, id_=id_)
        changes = data.model_dump(exclude_unset=True)
        return row, changes, merged_state(row, full, changes)

    def history(self, session: Session, *, tenant_id: int, id_: int) -> list[FieldChange]:
        """The row's audit trail (an id the tenant does not have: ``not_found``)."""
        self.get(session, tenant_id=tenant_id, id_=id_)
        return audit.history(session, tenant_id=tenant_id, entity=self.entity, entity_id=id_)

    def add(
        self,
        session: Session,
        row: T,
        fields: Iterable[str],
        *,
        tenant_id: int,
        by_user_id: int | None = None,
        reason: str | None = None,
    ) -> T:
        """Add and flush a new (checked) row; ``fields`` are audited as created."""
        session.add(row)
        session.flush()
        audit.record_created(
            session,
            row,
            fields,
            tenant_id=tenant_id,
            entity=self.entity,
            by_user_id=by_user_id,
            reason=reason,
        )
        return row

    def change(
        self,
        session: Session,
        row: T,
        changes: Mapping[str, Any],
        *,
        tenant_id: int,
        by_user_id: int | None,
        reason: str | None,
    ) -> T:
        """Apply the (checked) changes, one audited change per field that differs; flush."""
        audit.apply_changes(
            session,
            row,
            changes,
            tenant_id=tenant_id,
            entity=self.entity,
            by_user_id=by_user_id,
            reason=reason,
        )
        session.flush()
        return row

    def page(
        self,
        session: Session,
        *,
        tenant_id: int,
        after: int | None,
        limit: int,
        search: Sequence[ColumnElement[bool]] = (),
        active: bool | None = None,
        filters: Mapping[str, object] | None = None,
    ) -> tuple[list[T], int | None]:
        """Keyset paging by id: the ``limit`` rows after id ``after``, and the ``after`` of
        the next page (None: the last). ``search``: one of these must hold (none: no search);
        ``filters``: column name to the value it must have (None: any)."""
        model: Any = self.model
        stmt = select(model).where(model.tenant_id == tenant_id)
        if after is not None:
            stmt = stmt.where(model.id > after)
        if search:
            stmt = stmt.where(or_(*search))
        for name, value in {"is_active": active, **(filters or {})}.items():
            if isinstance(value, bool):
                stmt = stmt.where(getattr(model, name).is_(value))
            elif value is not None:
                stmt = stmt.where(getattr(model, name) == value)
        rows: list[T] = list(session.scalars(stmt.order_by(model.id).limit(limit + 1)))
        return rows[:limit], next_after(rows, limit)
