"""Bounded input types shared by every schema: limits come from the database, so a value the
database cannot hold is refused at the edge with a 422 instead of failing at the INSERT."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

MAX_ID = 2**31 - 1
"""Primary keys are 32-bit ``integer`` columns on PostgreSQL."""

MAX_OFFSET = 2**31 - 1
MAX_BIGINT = 2**63 - 1


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000, and no field of ours has a use for it.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    return value


DbId = Annotated[int, Field(ge=1, le=MAX_ID)]
"""A reference to a row by its id (body fields)."""

SafeStr = Annotated[str, AfterValidator(_no_nul)]
"""Any string that is stored: no NUL. Combine with ``StringConstraints(max_length=...)``."""

