"""Writing rows one by one through a domain's own ``create_*`` service, for the entities
whose creation has rules beyond the schema (a vehicle's driver must have the driver role, a
waste stream's processor must be a processor...). Slower than a bulk insert, and exactly as
strict as the API: a rule that fails is reported with the row's line, and nothing is kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.audit.models import FieldChange
from cloud.csvimport.errors import ImportRejected
from cloud.csvimport.schemas import RowProblem
from cloud.csvimport.spec import ValidRow, WriteContext, problem_from_text
from cloud.errors import AppError

Create = Callable[..., Any]
"""``create_x(session, *, tenant_id, data, by_user_id) -> row with an id``"""


def through_service(
    create: Create, *, entity: str
) -> Callable[[Session, WriteContext, Sequence[ValidRow]], None]:
    """A writer that calls ``create`` per row, then gives the audit rows it recorded the
    import's reason."""

    def write(session: Session, ctx: WriteContext, rows: Sequence[ValidRow]) -> None:
        problems: list[RowProblem] = []
        ids: list[int] = []
        for row in rows:
            try:
                created = create(
                    session, tenant_id=ctx.tenant_id, data=row.data, by_user_id=ctx.by_user_id
                )
            except AppError as exc:
                field = getattr(exc, "field", None)
                problems.append(problem_from_text(row.line, exc.detail, ctx.columns, field))
                continue
            ids.append(created.id)
        if problems:
            raise ImportRejected(problems)
        session.flush()
        for start in range(0, len(ids), 1000):
            session.execute(
                update(FieldChange)
                .where(
                    FieldChange.tenant_id == ctx.tenant_id,
                    FieldChange.entity == entity,
                    FieldChange.entity_id.in_(ids[start : start + 1000]),
                    FieldChange.reason.is_(None),
                )
                .values(reason=ctx.reason)
                .execution_options(synchronize_session=False)
            )

    return write
