"""Vehicles and drivers as the API and the CSV import read and write them: the one
definition. Create schemas accept plain strings too (lax mode), so that a CSV row validates
through the same model as a JSON body."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from cloud.types import BoundedDate, DbId, NoNul
from protocols.normalize import plate_key

VEHICLE_KINDS = ("truck", "customer_vehicle")
"""Whose it is: our own ``truck``, or a ``customer_vehicle`` (with ``customer_id``) that
delivers at our weighbridge. What it is (kipper, haakarm...) is ``vehicle_type``."""

VehicleKind = Literal["truck", "customer_vehicle"]

LICENCE_CATEGORIES = ("B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE")
"""Driving licence categories (EU directive 2006/126/EC) a driver can hold."""

VehicleLicence = Literal["C1", "C1E", "C", "CE"]
"""The licence a vehicle needs: a truck (C1 up to 7.5 t, C above) with or without a trailer
(E)."""


TEXT_LISTS = "text_lists"
"""Validation context key: a list may come as one text (a CSV cell), as the CSV import says
with ``model_validate(data, context={TEXT_LISTS: True})``. The JSON API takes only lists."""


def _split_list(value: Any, info: ValidationInfo) -> Any:
    """A list, or (from a CSV cell) a string separated by commas, semicolons or spaces."""
    if isinstance(value, str) and (info.context or {}).get(TEXT_LISTS):
        return [part for part in re.split(r"[,;\s]+", value) if part]
    return value


def _plate(value: str) -> str:
    value = " ".join(value.upper().split())
    if not plate_key(value):
        raise ValueError("a plate needs letters or digits")
    return value


def _upper(value: str) -> str:
    return value.upper()


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null (leave the field out to keep its value)")
    return value


Plate = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=20),
    NoNul,
    AfterValidator(_plate),
]
"""Upper case, dashes kept, runs of spaces made one: ``bx-123-z`` is stored ``BX-123-Z``."""
RfidCard = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32),
    NoNul,
    AfterValidator(_upper),
]
VehicleType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), NoNul
]
ContainerTypeName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NoNul
]
ContainerTypes = Annotated[
    list[ContainerTypeName], BeforeValidator(_split_list), Field(max_length=30)
]
Kg = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30), NoNul]
LicenceCategory = Annotated[
    Literal["B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE"],
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
]
LicenceCategories = Annotated[
    list[LicenceCategory], BeforeValidator(_split_list), Field(max_length=10)
]


def _dedupe(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


# --- vehicles ----------------------------------------------------------------------------


class VehicleCreate(BaseModel):
    """A vehicle of the tenant. ``plate`` is unique per tenant however it is written
    (``BX-123-Z`` = ``bx 123 z``); ``rfid_card`` is unique per tenant."""

    model_config = ConfigDict(extra="forbid")

    plate: Plate
    kind: VehicleKind = "truck"
    vehicle_type: VehicleType | None = None
    allowed_container_types: ContainerTypes = []
    max_load_kg: Kg | None = None
    stored_tare_kg: Kg | None = None
    stored_tare_valid_until: BoundedDate | None = None
    licence_category: VehicleLicence | None = None
    rfid_card: RfidCard | None = None
    customer_id: DbId | None = None
    """Required for (and only for) a ``customer_vehicle``."""
    driver_user_id: DbId | None = None
    """The user (role driver) who drives it now."""
    is_active: bool = True

    @field_validator("allowed_container_types")
    @classmethod
    def _unique_types(cls, value: list[str]) -> list[str]:
        return _dedupe(value)


class VehicleUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    plate: Plate | None = None
    kind: VehicleKind | None = None
    vehicle_type: VehicleType | None = None
    allowed_container_types: ContainerTypes | None = None
    max_load_kg: Kg | None = None
    stored_tare_kg: Kg | None = None
    stored_tare_valid_until: BoundedDate | None = None
    licence_category: VehicleLicence | None = None
    rfid_card: RfidCard | None = None
    customer_id: DbId | None = None
    driver_user_id: DbId | None = None
    is_active: bool | None = None

    _required = field_validator(
        "plate", "kind", "allowed_container_types", "is_active", mode="before"
    )(_not_null)

    @field_validator("allowed_container_types")
    @classmethod
    def _unique_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _dedupe(value)


class VehicleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plate: str
    plate_key: str
    kind: str
    vehicle_type: str | None
    allowed_container_types: list[str]
    max_load_kg: Decimal | None
    stored_tare_kg: Decimal | None
    stored_tare_valid_until: date | None
    licence_category: str | None
    rfid_card: str | None
    customer_id: int | None
    driver_user_id: int | None
    is_active: bool
    device_ids: list[str] = []
    """The on-board devices registered to this vehicle (``devices.vehicle_id``; read-only)."""


class VehiclePage(BaseModel):
    items: list[VehicleRead]
    next_after: int | None
    """Pass as ``after`` for the next page; ``None``: this was the last page."""


# --- drivers -----------------------------------------------------------------------------


class DriverCreate(BaseModel):
    """A driver, linked to an active user of the tenant with the driver role (one driver per
    user)."""

    model_config = ConfigDict(extra="forbid")

    user_id: DbId
    name: Name
    phone: Phone | None = None
    licence_categories: LicenceCategories = []
    licence_valid_until: BoundedDate | None = None
    adr: bool = False
    adr_valid_until: BoundedDate | None = None
    is_active: bool = True

    @field_validator("licence_categories")
    @classmethod
    def _unique_categories(cls, value: list[str]) -> list[str]:
        return _dedupe(value)


class DriverUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: DbId | None = None
    name: Name | None = None
    phone: Phone | None = None
    licence_categories: LicenceCategories | None = None
    licence_valid_until: BoundedDate | None = None
    adr: bool | None = None
    adr_valid_until: BoundedDate | None = None
    is_active: bool | None = None

    _required = field_validator(
        "user_id", "name", "licence_categories", "adr", "is_active", mode="before"
    )(_not_null)

    @field_validator("licence_categories")
    @classmethod
    def _unique_categories(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _dedupe(value)


class DriverRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    user_id: int | None
    name: str
    phone: str | None
    licence_categories: list[str]
    licence_valid_until: date | None
    adr: bool
    adr_valid_until: date | None
    is_active: bool


class DriverPage(BaseModel):
    items: list[DriverRead]
    next_after: int | None


# --- history -----------------------------------------------------------------------------
