"""Pydantic I/O of recurring schedules."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cloud.orders.models import OrderType
from cloud.types import BoundedDate, DbId, NoNul

Weekday = Annotated[int, Field(ge=1, le=7)]
Weekdays = Annotated[
    list[Weekday],
    Field(min_length=1, max_length=7, description="ISO weekdays: 1 Monday ... 7 Sunday"),
]
EveryNWeeks = Annotated[int, Field(ge=1, le=52, description="1 weekly, 2 every other week...")]
DaysAhead = Annotated[int, Field(ge=1, le=60, description="orders are made this far ahead")]
ContainerType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NoNul
]
Reference = Annotated[str, StringConstraints(max_length=64), NoNul]
Notes = Annotated[str, StringConstraints(max_length=2000), NoNul]
ExpectedKg = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]


def _sorted_unique(days: list[int] | None) -> list[int] | None:
    return None if days is None else sorted(set(days))


class ScheduleCreate(BaseModel):
    """Weeks are counted from the Monday of ``start_date``: with ``every_n_weeks`` 2, the
    week of the start and every second week after it."""

    model_config = ConfigDict(extra="forbid")

    customer_id: DbId
    site_id: DbId | None = None
    order_type: OrderType
    material_id: DbId | None = None
    container_id: DbId | None = None
    container_type: ContainerType | None = None
    expected_quantity_kg: ExpectedKg | None = None
    weekdays: Weekdays
    every_n_weeks: EveryNWeeks = 1
    start_date: BoundedDate
    until_date: BoundedDate | None = None
    days_ahead: DaysAhead = 14
    reference: Reference | None = None
    notes: Notes | None = None

    _weekdays = field_validator("weekdays")(_sorted_unique)

    @model_validator(mode="after")
    def _until_after_start(self) -> ScheduleCreate:
        if self.until_date is not None and self.until_date < self.start_date:
            raise ValueError("until_date must not be before start_date")
        return self


class ScheduleUpdate(BaseModel):
    """The fields to change; ``null`` clears an optional one. The customer stays."""

    model_config = ConfigDict(extra="forbid")

    site_id: DbId | None = None
    order_type: OrderType | None = None
    material_id: DbId | None = None
    container_id: DbId | None = None
    container_type: ContainerType | None = None
    expected_quantity_kg: ExpectedKg | None = None
    weekdays: Weekdays | None = None
    every_n_weeks: EveryNWeeks | None = None
    start_date: BoundedDate | None = None
    until_date: BoundedDate | None = None
    days_ahead: DaysAhead | None = None
    reference: Reference | None = None
    notes: Notes | None = None

    _weekdays = field_validator("weekdays")(_sorted_unique)


REQUIRED_ON_UPDATE = ("order_type", "weekdays", "every_n_weeks", "start_date", "days_ahead")
"""Fields an update may change but not clear."""


class ScheduleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    site_id: int | None
    order_type: str
    material_id: int | None
    container_id: int | None
    container_type: str | None
    expected_quantity_kg: Decimal | None
    weekdays: list[int]
    every_n_weeks: int
    start_date: date
    until_date: date | None
    days_ahead: int
    paused: bool
    generated_until: date | None
    reference: str | None
    notes: str | None
    created_at: datetime


class SchedulePage(BaseModel):
    items: list[ScheduleRead]
    next_after: int | None


class RunResult(BaseModel):
    created: int
    """Orders made by this run (0 when everything due already exists)."""
