"""Containers as the API and the CSV import read and write them: the one definition."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from cloud.types import BoundedDatetime, DbId, NoNul

LocationKind = Literal["yard", "site", "vehicle", "unknown"]
"""``yard``: our own yard (``site_id`` optional: a site of kind ``own_yard`` or
``weighbridge``); ``site``: at a site (``site_id``); ``vehicle``: on a vehicle
(``vehicle_id``); ``unknown``: nobody knows (neither)."""


def _upper(value: str) -> str:
    return value.upper()


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null (leave the field out to keep its value)")
    return value


Number = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), NoNul
]
ContainerType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NoNul
]
RfidTag = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    NoNul,
    AfterValidator(_upper),
]
VolumeM3 = Annotated[Decimal, Field(gt=0, max_digits=8, decimal_places=3)]


class ContainerCreate(BaseModel):
    """A container. ``number`` (painted on it) and ``rfid_tag`` are unique per tenant. Where it
    stands may be given (stock taking); orders keep it up to date afterwards."""

    model_config = ConfigDict(extra="forbid")

    number: Number
    container_type: ContainerType
    volume_m3: VolumeM3 | None = None
    rfid_tag: RfidTag | None = None
    location_kind: LocationKind = "yard"
    site_id: DbId | None = None
    vehicle_id: DbId | None = None
    located_since: BoundedDatetime | None = None
    """When it got there; default: now, when a location is given."""
    is_active: bool = True


class ContainerUpdate(BaseModel):
    """Only the fields sent change. Moving a container by hand: send ``location_kind`` with
    its ``site_id``/``vehicle_id``; ``located_since`` defaults to now."""

    model_config = ConfigDict(extra="forbid")

    number: Number | None = None
    container_type: ContainerType | None = None
    volume_m3: VolumeM3 | None = None
    rfid_tag: RfidTag | None = None
    location_kind: LocationKind | None = None
    site_id: DbId | None = None
    vehicle_id: DbId | None = None
    located_since: BoundedDatetime | None = None
    is_active: bool | None = None

    _required = field_validator(
        "number", "container_type", "location_kind", "is_active", mode="before"
    )(_not_null)


class ContainerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    container_type: str
    volume_m3: Decimal | None
    rfid_tag: str | None
    location_kind: str
    site_id: int | None
    vehicle_id: int | None
    located_since: datetime | None
    last_order_id: int | None
    """The order that moved it last (set by executed orders; read-only)."""
    is_active: bool


class ContainerPage(BaseModel):
    items: list[ContainerRead]
    next_after: int | None
    """Pass as ``after`` for the next page; ``None``: this was the last page."""
