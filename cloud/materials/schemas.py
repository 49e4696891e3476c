"""Materials and waste streams as the API and the CSV import read and write them: the one
definition. Create schemas accept plain strings too (lax mode)."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StringConstraints,
    field_validator,
    model_validator,
)

from cloud.types import BoundedDate, DbId, NoNul

EURAL_PATTERN = re.compile(r"^[0-9]{6}\*?$")


def eural_code(value: str) -> str:
    """``17 09 04`` -> ``170904``, ``17 05 03 *`` -> ``170503*``: six digits, ``*`` when
    hazardous. Spaces and dots between the pairs are dropped."""
    compact = re.sub(r"[\s.]+", "", value)
    if not EURAL_PATTERN.match(compact):
        raise ValueError("a Eural code is six digits, with '*' after them when hazardous")
    return compact


def is_hazardous(code: str | None) -> bool:
    return code is not None and code.endswith("*")


def waste_stream_number(value: str) -> str:
    """An afvalstroomnummer: 12 letters or digits (spaces dropped, upper case)."""
    compact = re.sub(r"\s+", "", value).upper()
    if not re.fullmatch(r"[0-9A-Z]{12}", compact):
        raise ValueError("an afvalstroomnummer is 12 letters or digits")
    return compact


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null (leave the field out to keep its value)")
    return value


# Eural codes and afvalstroomnummers are accepted as people write them (``17 09 04``,
# ``12345 1234567``) and stored compact (7 and 12 characters): their input limits are longer
# than their columns, the normalised value always fits.
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), NoNul]
Description = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
EuralCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=12),
    NoNul,
    AfterValidator(eural_code),
]
WasteStreamNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
    NoNul,
    AfterValidator(waste_stream_number),
]


# --- materials ---------------------------------------------------------------------------


class MaterialCreate(BaseModel):
    """A material. ``hazardous`` is not sent: it follows from the ``*`` of the Eural code."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    description: Description
    eural_code: EuralCode | None = None
    article_id: DbId | None = None
    """The article it is billed with by default."""
    is_active: bool = True


class MaterialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    description: Description | None = None
    eural_code: EuralCode | None = None
    article_id: DbId | None = None
    is_active: bool | None = None

    _required = field_validator("code", "description", "is_active", mode="before")(_not_null)


class MaterialRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    description: str
    eural_code: str | None
    hazardous: bool
    article_id: int | None
    is_active: bool


class MaterialPage(BaseModel):
    items: list[MaterialRead]
    next_after: int | None
    """Pass as ``after`` for the next page; ``None``: this was the last page."""


# --- waste streams -----------------------------------------------------------------------


class WasteStreamCreate(BaseModel):
    """An afvalstroomnummer for one customer, processor and material. Its first five
    positions are the processor site's ``processor_number``."""

    model_config = ConfigDict(extra="forbid")

    number: WasteStreamNumber
    customer_id: DbId
    processor_site_id: DbId
    material_id: DbId
    valid_from: BoundedDate
    valid_until: BoundedDate | None = None
    """Inclusive; empty: open-ended."""
    is_active: bool = True

    @model_validator(mode="after")
    def _period_in_order(self) -> WasteStreamCreate:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until must not be before valid_from")
        return self


class WasteStreamUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: WasteStreamNumber | None = None
    customer_id: DbId | None = None
    processor_site_id: DbId | None = None
    material_id: DbId | None = None
    valid_from: BoundedDate | None = None
    valid_until: BoundedDate | None = None
    is_active: bool | None = None

    _required = field_validator(
        "number",
        "customer_id",
        "processor_site_id",
        "material_id",
        "valid_from",
        "is_active",
        mode="before",
    )(_not_null)


class WasteStreamRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    customer_id: int
    processor_site_id: int
    material_id: int
    valid_from: date
    valid_until: date | None
    is_active: bool


class WasteStreamPage(BaseModel):
    items: list[WasteStreamRead]
    next_after: int | None
