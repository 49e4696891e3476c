"""Bounded input types shared by every schema: limits come from the database, so a value the
database cannot hold is refused at the edge with a 422 instead of failing at the INSERT.

String fields are declared ``Annotated[str, StringConstraints(max_length=N), NoNul]`` with ``N``
the length of the column the value is stored in; ``tests/security/test_input_limits.py``
compares the two, so a schema and its column cannot drift apart."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

MAX_ID = 2**31 - 1
"""Primary keys are 32-bit ``integer`` columns on PostgreSQL."""

MAX_OFFSET = 2**31 - 1
"""Paging offsets: far beyond any table we page, and within a 64-bit ``OFFSET``."""


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000, and no field of ours has a use for it.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A reference to a row by its id (body fields)."""

NoNul = AfterValidator(_no_nul)
"""For ``Annotated[str, StringConstraints(...), NoNul]``: the check runs after the constraints
(whitespace stripped and lengths checked first; put before them, pydantic checks
``min_length`` on the unstripped value)."""

SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
"""A sha256 digest as 64 hex digits (in paths and query strings)."""

MIN_YEAR = 2000
MAX_YEAR = 2100
"""Every point in time the API accepts lies in these years, both included, in UTC: far wider
than any record or plan of ours, and far from where converting or shifting a time overflows
Python's ``datetime`` (years 1 to 9999)."""


def _bounded_instant(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
        utc = None
    if utc is None or not MIN_YEAR <= utc.year <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR} (UTC)")
    return value


BoundedDatetime = Annotated[AwareDatetime, AfterValidator(_bounded_instant)]
"""A point in time given with its offset, in the years ``MIN_YEAR`` to ``MAX_YEAR`` once
converted to UTC (a time whose conversion overflows is outside too): for the date-times the API
reads in query strings. Outside: 422, never an ``OverflowError``. (An order's dates and
windows have their own, configurable range: ``cloud.orders.service.DateBounds``.)"""


def _bounded_date(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR}")
    return value


BoundedDate = Annotated[date, AfterValidator(_bounded_date)]
"""A calendar date in the years ``MIN_YEAR`` to ``MAX_YEAR``: validity dates, schedule dates."""
