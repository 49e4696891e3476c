"""Importing a CSV file of master data: the one entry for the API and the screens. Never
commits: the whole file is written in the caller's transaction, or nothing is."""

from __future__ import annotations

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.csvimport import parsing
from cloud.csvimport.entities import REGISTRY
from cloud.csvimport.errors import ImportRejected, UnknownImportEntity
from cloud.csvimport.schemas import ImportResult, RowProblem
from cloud.csvimport.spec import EntitySpec, WriteContext, validate
from cloud.errors import AppError, Conflict

log = structlog.get_logger("cloud.csvimport")

MAX_FILENAME = 200
"""The file's name as the audit reason quotes it (``FieldChange.reason`` holds 500)."""


class ImportConflict(Conflict):
    """Another change took a number or key this file uses between the check and the write."""


def entities() -> list[str]:
    return sorted(REGISTRY)


def spec_for(entity: str) -> EntitySpec:
    spec = REGISTRY.get(entity)
    if spec is None:
        raise UnknownImportEntity(f"no import for {entity!r}; there are {', '.join(entities())}")
    return spec


def _audit_reason(filename: str) -> str:
    name = "".join(ch for ch in filename if ch.isprintable()).strip()[:MAX_FILENAME]
    return f"CSV import {name or 'upload.csv'}"


def import_csv(
    session: Session,
    *,
    tenant_id: int,
    entity: str,
    data: bytes,
    filename: str,
    by_user_id: int | None,
    dry_run: bool = False,
) -> ImportResult:
    """Check every row of the file; if one is wrong, raise ``ImportRejected`` listing every
    problem (line, column, reason) and write nothing. Otherwise write all rows, each audited
    with the reason ``CSV import <filename>``. A dry run does the same work inside a savepoint
    and rolls it back, so it finds what the import would find and keeps nothing."""
    spec = spec_for(entity)
    table = parsing.read_table(data)
    checked = validate(session, spec, table, tenant_id=tenant_id)
    ctx = WriteContext(
        tenant_id=tenant_id,
        by_user_id=by_user_id,
        reason=_audit_reason(filename),
        columns=checked.columns,
    )
    if checked.problems and not (spec.checks_on_write and checked.rows):
        raise ImportRejected(checked.problems)
    keep = not dry_run and not checked.problems
    savepoint = session.begin_nested()
    try:
        spec.write(session, ctx, checked.rows)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        raise ImportConflict(
            "another change took a key this file uses while it was imported; try again"
        ) from None
    except ImportRejected as exc:
        savepoint.rollback()
        raise ImportRejected([*checked.problems, *exc.rows]) from None
    except AppError as exc:
        # a rule the row checks do not know and no row owns: still nothing is written
        savepoint.rollback()
        raise ImportRejected(
            [*checked.problems, RowProblem(line=0, column=None, reason=exc.detail)]
        ) from None
    if keep:
        savepoint.commit()
    else:
        savepoint.rollback()
    if checked.problems:
        raise ImportRejected(checked.problems)
    rows = checked.rows
    log.info(
        "csvimport.done",
        entity=entity,
        tenant_id=tenant_id,
        rows=len(rows),
        dry_run=dry_run,
    )
    return ImportResult(
        entity=entity, rows=len(rows), imported=0 if dry_run else len(rows), dry_run=dry_run
    )
