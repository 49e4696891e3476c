from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.orders.lifecycle import OrderStatus
from cloud.types import DbId, NoNul

OrderType = Literal[
    "walk_in",
    "container_place",
    "container_exchange",
    "container_collect",
    "bulk_transport",
    "other",
]


# Order fields that go to the truck must fit the job contract (protocols.Job) as well as
# their column: ``material`` (column 100) and ``container_type`` (60) travel as ``ShortText``
# (1-64 characters, whitespace stripped), ``notes`` as the job's instructions (2000).
Material = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
ContainerType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NoNul
]
Reference = Annotated[str, StringConstraints(max_length=64), NoNul]
Notes = Annotated[str, StringConstraints(max_length=2000), NoNul]


class OrderCreate(BaseModel):
    """Manual intake by the office (phone call, e-mail). References are resolved within the
    caller's tenant and the order's customer (``cloud.orders.service.create_order``)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: DbId
    order_type: OrderType
    site_id: DbId | None = None
    vehicle_id: DbId | None = None
    material: Material | None = None
    requested_date: date | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    container_type: ContainerType | None = None
    expected_quantity_kg: (
        Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)] | None
    ) = None
    reference: Reference | None = None
    notes: Notes | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> OrderCreate:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    at: datetime
    by_user_id: int | None
    by_device_id: str | None
    reason: str | None


class WeighingSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_number: str
    instrument_id: str
    device_id: str
    gross: Decimal
    tare: Decimal
    net: Decimal
    unit: str
    tare_kind: str
    plate: str | None
    rfid_card: str | None
    first_at: datetime
    second_at: datetime | None


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    order_type: str
    source: str
    status: OrderStatus
    customer_id: int
    customer_name: str
    site_id: int | None
    vehicle_id: int | None
    plate: str | None
    material: str | None
    requested_date: date | None
    window_start: datetime | None
    window_end: datetime | None
    container_type: str | None
    expected_quantity_kg: Decimal | None
    reference: str | None
    notes: str | None
    actual_quantity_kg: Decimal | None
    actual_counts: dict[str, int]
    needs_review: bool
    review_reasons: list[str]
    created_at: datetime
    executed_at: datetime | None
    weighings: list[WeighingSummary] = []
    history: list[StatusChangeRead] = []


class OrderPage(BaseModel):
    items: list[OrderRead]
    total: int
    limit: int
    offset: int
