"""Reading a CSV file as an office spreadsheet writes it: UTF-8 with or without a BOM, ``;``
(Dutch Excel) or ``,`` (or tab) between the values, a header row with the column names.

Lines are counted as the spreadsheet shows them: the header is line 1, the first data row
line 2. A value spread over several physical lines (a quoted newline) is still one row, and a
blank row still counts, so that "line 7" is row 7 in Excel."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from cloud.csvimport.errors import ImportRejected, ImportTooLarge
from cloud.csvimport.schemas import RowProblem

MAX_BYTES = 5 * 1024 * 1024
"""The largest file taken (413 beyond): far more than 50,000 customer rows need."""
MAX_ROWS = 50_000
"""The most data rows in one file (413 beyond): one transaction should stay short."""
MAX_FIELD_CHARS = 10_000
"""Longer than any column we store; csv's own limit is 128 KiB."""

DELIMITERS = (";", ",", "\t")

csv.field_size_limit(MAX_FIELD_CHARS)


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, str]
    """Header name (as written) -> the cell, blanks stripped; empty cells left out."""


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[Row]
    delimiter: str
    problems: list[RowProblem]
    """Rows that could not be read at all (more values than columns)."""


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise ImportTooLarge(f"the file has {size} bytes; at most {MAX_BYTES} are taken")


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM removed). Anything else is refused with the line where it fails:
    Excel saves UTF-8 as "CSV UTF-8 (door komma's gescheiden)"."""
    check_size(len(data))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportRejected.one(
            line, None, "the file is not UTF-8 text: save it as 'CSV UTF-8'"
        ) from None


def sniff_delimiter(text: str) -> str:
    """The delimiter of the header line: whichever of ``;``, ``,`` and tab it has most of
    (outside quotes). A header of one column: ``,``."""
    first = text.split("\n", 1)[0]
    unquoted = "".join(part for i, part in enumerate(first.split('"')) if i % 2 == 0)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_table(data: bytes) -> Table:
    """The header and the data rows; blank rows are skipped (but counted)."""
    text = decode(data)
    if not text.strip():
        raise ImportRejected.one(1, None, "the file is empty: a header row is required")
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [h.strip() for h in next(reader)]
        rows: list[Row] = []
        problems: list[RowProblem] = []
        for line, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise ImportTooLarge(f"the file has more than {MAX_ROWS} rows")
            if len(cells) > len(header):
                problems.append(
                    RowProblem(
                        line=line,
                        column=None,
                        reason=f"{len(cells)} values, but the header has {len(header)} columns",
                    )
                )
                continue
            values = {h: c.strip() for h, c in zip(header, cells, strict=False) if c.strip()}
            if "" in values:
                problems.append(
                    RowProblem(line=line, column=None, reason="a value in a column without a name")
                )
                continue
            rows.append(Row(line=line, values=values))
    except csv.Error as exc:
        raise ImportRejected.one(
            reader.line_num, None, f"the file is not valid CSV here: {exc}"
        ) from None
    return Table(header=header, rows=rows, delimiter=delimiter, problems=problems)
