from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.orders.lifecycle import OrderStatus

OrderType = Literal[
    "walk_in",
    "container_place",
    "container_exchange",
    "container_collect",
    "bulk_transport",
    "other",
]


class OrderCreate(BaseModel):
    """Manual intake by the office (phone call, e-mail)."""

    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(gt=0)
    order_type: OrderType
    site_id: int | None = Field(default=None, gt=0)
    vehicle_id: int | None = Field(default=None, gt=0)
    material: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    requested_date: date | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    container_type: Annotated[str, StringConstraints(max_length=60)] | None = None
    expected_quantity_kg: (
        Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)] | None
    ) = None
    reference: Annotated[str, StringConstraints(max_length=64)] | None = None
    notes: Annotated[str, StringConstraints(max_length=4000)] | None = None

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
