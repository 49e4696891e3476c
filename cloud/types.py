"""Bounded input types shared by every schema: limits come from the database, so a value the
database cannot hold is refused at the edge with a 422 instead of failing at the INSERT.

String fields are declared ``Annotated[SafeStr, StringConstraints(max_length=N)]`` with ``N``
the length of the column the value is stored in; ``tests/security/test_input_limits.py``
compares the two, so a schema and its column cannot drift apart."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

MAX_ID = 2**31 - 1
"""Primary keys are 32-bit ``integer`` columns on PostgreSQL."""

MAX_OFFSET = 2**31 - 1
"""Paging offsets: far beyond any table we page, and within a 64-bit ``OFFSET``."""
MAX_BIGINT = 2**63 - 1


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

SafeStr = Annotated[str, NoNul]
"""Any string that is stored: no NUL. Combine with ``StringConstraints(max_length=...)``; with
``strip_whitespace`` use ``Annotated[str, StringConstraints(...), NoNul]`` instead."""

SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
Sha256Hex = Annotated[
    str, StringConstraints(min_length=64, max_length=64, pattern=SHA256_PATTERN, to_lower=True)
]
"""A sha256 digest as 64 hex digits (stored lower case)."""
