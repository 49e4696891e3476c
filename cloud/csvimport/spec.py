"""The generic importer: what an entity's CSV looks like (``EntitySpec``) and how a file is
checked against it.

Every row goes through the entity's pydantic ``Create`` schema, the one definition the API
uses too. Before that, references are looked up by their natural key (a site's customer by
customer number, not by id) in maps loaded once per file; after it, values that must be unique
are checked within the file and against the database, also from sets loaded once. No query
runs per row."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session

from cloud.csvimport.errors import ImportRejected
from cloud.csvimport.parsing import Table
from cloud.csvimport.schemas import RowProblem
from cloud.fleet.schemas import TEXT_LISTS


@dataclass(frozen=True)
class WriteContext:
    tenant_id: int
    by_user_id: int | None
    reason: str
    """``CSV import <filename>``: the audit reason of every row written."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """Schema field -> the column as the file's header names it (for problems found while
    writing)."""


@dataclass(frozen=True)
class ValidRow:
    line: int
    data: Any
    """The entity's ``Create`` schema instance."""


@dataclass(frozen=True)
class Reference:
    """A column that names another row by its natural key; the importer puts the row's id
    into ``field`` of the schema."""

    column: str
    field: str
    load: Callable[[Session, int], Mapping[str, int]]
    """``(session, tenant_id) -> {key: id}``: every row that may be referred to."""
    what: str
    """How the reason names the key: ``customer number``."""
    key: Callable[[str], str] = str
    """Normalises a cell to the form of the map's keys (plates: their key)."""


@dataclass(frozen=True)
class Unique:
    """A value no two rows may share, in the file or with the database."""

    field: str
    existing: Callable[[Session, int], Collection[str]]
    """``(session, tenant_id) -> keys`` already taken in the database."""
    what: str
    key: Callable[[Any], str] = str


@dataclass(frozen=True)
class EntitySpec:
    name: str
    schema: type[BaseModel]
    write: Callable[[Session, WriteContext, Sequence[ValidRow]], None]
    """Writes all rows (no commit). May raise ``ImportRejected`` for a row after all."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Other header names (Dutch ones) -> the column name."""
    references: tuple[Reference, ...] = ()
    unique: tuple[Unique, ...] = ()
    example: str = ""
    """A small valid file, for the documentation and the screens."""
    checks_on_write: bool = False
    """``write`` applies rules of its own (a domain service per row): run it on the good rows
    of a bad file too (and roll it back), so that one answer lists every problem."""

    @property
    def columns(self) -> list[str]:
        """The column names, in schema order; a reference replaces its id field."""
        by_field = {r.field: r.column for r in self.references}
        return [by_field.get(name, name) for name in self.schema.model_fields]

    @property
    def required_columns(self) -> list[str]:
        by_field = {r.field: r.column for r in self.references}
        return [
            by_field.get(name, name)
            for name, info in self.schema.model_fields.items()
            if info.is_required()
        ]


def header_key(name: str) -> str:
    """``Postal code``, ``postal-code`` and ``postal_code`` are the same column."""
    return re.sub(r"[\s\-.]+", "_", name.strip().lower()).strip("_")


# -- cells to values ----------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "y", "ja", "j", "waar", "x", "on"}
_FALSE = {"0", "false", "no", "n", "nee", "onwaar", "off"}
_DUTCH_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def _base_type(annotation: Any) -> Any:
    """``Decimal | None`` -> ``Decimal``, ``Annotated[list[str], ...]`` -> ``list``."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _base_type(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _base_type(args[0]) if len(args) == 1 else annotation
    return origin or annotation


_DOT_GROUPED = re.compile(r"-?\d{1,3}(\.\d{3})+")
"""``26.000``: 26 thousand as Dutch Excel writes it, or 26 with three decimals? Never guessed."""


class AmbiguousCell(ValueError):
    pass


def _cell(kind: Any, text: str) -> Any:
    """A cell as the schema takes it: booleans in Dutch too, decimals with a comma, dates as
    Dutch Excel writes them (31-12-2026), lists separated by ``|`` (or ``,``/``;``)."""
    if kind is bool:
        low = text.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        return text
    if kind is Decimal:
        # 52,37 and 1.234,5 as Dutch Excel writes them; anything else (1,234.5) is left for
        # the schema to refuse, never guessed
        if _DOT_GROUPED.fullmatch(text):
            raise AmbiguousCell(
                f"{text!r} is ambiguous: write {text.replace('.', '')} or {text},0 "
                "(Dutch: thousands) or use a comma for decimals"
            )
        if "," in text and text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        return text
    if kind is date:
        match = _DUTCH_DATE.match(text)
        if match:
            day, month, year = match.groups()
            return f"{year}-{int(month):02d}-{int(day):02d}"
        return text
    if kind is list:
        return [part.strip() for part in re.split(r"[|,;]", text) if part.strip()]
    if isinstance(kind, type) and issubclass(kind, Enum):
        low = text.lower()
        return low if low in kind._value2member_map_ else text
    return text


def _reason(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


# -- the check ----------------------------------------------------------------------------------


def _map_header(spec: EntitySpec, header: list[str]) -> tuple[dict[str, str], list[RowProblem]]:
    """``column -> header as written``, or the problems of line 1."""
    columns = set(spec.columns)
    aliases = {header_key(k): v for k, v in spec.aliases.items() if v in columns}
    mapping: dict[str, str] = {}
    problems: list[RowProblem] = []
    for written in header:
        key = header_key(written)
        if not key:
            continue  # Excel writes empty columns after the last one used; a value there is
            # reported by the parser
        column = key if key in columns else aliases.get(key)
        if column is None:
            problems.append(
                RowProblem(
                    line=1,
                    column=written,
                    reason=f"unknown column; the columns are {', '.join(spec.columns)}",
                )
            )
        elif column in mapping:
            problems.append(
                RowProblem(line=1, column=written, reason=f"column {column} appears twice")
            )
        else:
            mapping[column] = written
    for column in spec.required_columns:
        if column not in mapping:
            problems.append(RowProblem(line=1, column=column, reason="required column missing"))
    return mapping, problems


@dataclass(frozen=True)
class Checked:
    rows: list[ValidRow]
    """The rows without problems."""
    problems: list[RowProblem]
    columns: dict[str, str]
    """Schema field -> the column as the header names it."""


def validate(session: Session, spec: EntitySpec, table: Table, *, tenant_id: int) -> Checked:
    """Every row checked against the schema, the references and the unique keys. A header
    with problems is refused at once (``ImportRejected``): no row can be judged then."""
    mapping, problems = _map_header(spec, table.header)
    if problems:
        raise ImportRejected(problems)
    problems = list(table.problems)
    by_column = {r.column: r for r in spec.references}
    field_of = {column: by_column[column].field if column in by_column else column
                for column in mapping}  # fmt: skip
    header_of_field = {field_of[c]: written for c, written in mapping.items()}
    kinds = {name: _base_type(info.annotation) for name, info in spec.schema.model_fields.items()}
    targets = {r.column: r.load(session, tenant_id) for r in spec.references}
    taken = {u.field: set(u.existing(session, tenant_id)) for u in spec.unique}
    seen: dict[str, dict[str, int]] = {u.field: {} for u in spec.unique}

    valid: list[ValidRow] = []
    for row in table.rows:
        data: dict[str, Any] = {}
        row_problems: list[RowProblem] = []
        for column, written in mapping.items():
            text = row.values.get(written)
            if text is None:
                continue
            ref = by_column.get(column)
            if ref is None:
                try:
                    data[column] = _cell(kinds[column], text)
                except AmbiguousCell as exc:
                    row_problems.append(RowProblem(line=row.line, column=written, reason=str(exc)))
                continue
            target = targets[column].get(ref.key(text))
            if target is None:
                row_problems.append(
                    RowProblem(line=row.line, column=written, reason=f"no {ref.what} {text[:60]!r}")
                )
            else:
                data[ref.field] = target
        try:
            model = spec.schema.model_validate(data, context={TEXT_LISTS: True})
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                row_problems.append(_problem(row.line, error, header_of_field))
            problems += _only_new(row_problems)
            continue
        if row_problems:
            problems += row_problems
            continue
        for unique in spec.unique:
            value = getattr(model, unique.field)
            if value is None:
                continue
            key = unique.key(value)
            column = header_of_field.get(unique.field, unique.field)
            if key in seen[unique.field]:
                first = seen[unique.field][key]
                row_problems.append(
                    RowProblem(
                        line=row.line,
                        column=column,
                        reason=f"{unique.what} {value!r} is also on line {first}",
                    )
                )
            elif key in taken[unique.field]:
                row_problems.append(
                    RowProblem(
                        line=row.line, column=column, reason=f"{unique.what} {value!r} exists"
                    )
                )
            else:
                seen[unique.field][key] = row.line
        if row_problems:
            problems += row_problems
        else:
            valid.append(ValidRow(line=row.line, data=model))
    return Checked(rows=valid, problems=problems, columns=header_of_field)


def _only_new(problems: list[RowProblem]) -> list[RowProblem]:
    """One problem per (line, column): an unknown reference also fails the schema (its id
    is missing), and that second reason says less."""
    out: list[RowProblem] = []
    seen: set[tuple[int, str | None]] = set()
    for p in problems:
        if (p.line, p.column) not in seen:
            seen.add((p.line, p.column))
            out.append(p)
    return out


def _problem(line: int, error: Any, header_of_field: Mapping[str, str]) -> RowProblem:
    reason = _reason(str(error.get("msg", "invalid")))
    loc = error.get("loc") or ()
    if loc:
        name = str(loc[0])
        return RowProblem(line=line, column=header_of_field.get(name, name), reason=reason)
    return problem_from_text(line, reason, header_of_field)


def problem_from_text(
    line: int, reason: str, header_of_field: Mapping[str, str], name: str | None = None
) -> RowProblem:
    """A problem whose message may start with the field it concerns (``peppol_id: ...``,
    the habit of the rules over several fields): that field becomes the column."""
    if name is None:
        match = re.match(r"^([a-z_]+): (.*)$", reason, re.S)
        if match:
            name, reason = match.group(1), match.group(2)
    column = header_of_field.get(name, name) if name else None
    return RowProblem(line=line, column=column, reason=reason)
