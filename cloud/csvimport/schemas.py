"""What an import answers."""

from __future__ import annotations

from pydantic import BaseModel


class RowProblem(BaseModel):
    line: int
    """1 is the header, 2 the first data row: as the spreadsheet numbers its rows (0: the
    file as a whole)."""
    column: str | None
    """The column as the file's header names it; None for the row as a whole."""
    reason: str


class ImportResult(BaseModel):
    entity: str
    rows: int
    """Data rows in the file (blank rows not counted)."""
    imported: int
    """Rows written: all of them, or 0 on a dry run."""
    dry_run: bool


class ImportRejectedRead(BaseModel):
    """The 422 answer of an import: nothing was written."""

    error: str
    detail: str
    rows: list[RowProblem]
