"""Errors of the CSV import."""

from __future__ import annotations

from collections.abc import Sequence

from cloud.csvimport.schemas import RowProblem
from cloud.errors import NotFound, PayloadTooLarge, Unprocessable

MAX_REPORTED = 1000
"""Problems listed in one answer; a file with more says how many were left out."""


class ImportRejected(Unprocessable):
    """422: at least one row is wrong, so nothing was written. ``rows`` lists every problem
    (line as the spreadsheet counts it, column as the header names it, reason)."""

    def __init__(self, rows: Sequence[RowProblem]) -> None:
        ordered = sorted(rows, key=lambda p: p.line)
        shown = ordered[:MAX_REPORTED]
        lines = len({p.line for p in ordered})
        detail = f"{lines} row(s) with problems, nothing was imported"
        if len(ordered) > len(shown):
            detail += f" (the first {len(shown)} of {len(ordered)} problems are listed)"
        super().__init__(detail)
        self.rows = shown

    def payload(self) -> dict[str, object]:
        return {"rows": [p.model_dump() for p in self.rows]}

    @classmethod
    def one(cls, line: int, column: str | None, reason: str) -> ImportRejected:
        return cls([RowProblem(line=line, column=column, reason=reason)])


class ImportTooLarge(PayloadTooLarge):
    pass


class UnknownImportEntity(NotFound):
    pass


class NoFile(Unprocessable):
    """The request carries no CSV: neither a multipart field ``file`` nor a text/csv body."""
