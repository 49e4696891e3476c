"""What the order API reads and writes. Order types and sources are the enums of
``cloud.orders.models`` (one definition each)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import OrderSource, OrderType
from cloud.types import MAX_YEAR, MIN_YEAR, DbId, NoNul

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
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NoNul
]
"""Why an order was changed or cancelled (``order_status_history.reason``, 500)."""
IDEMPOTENCY_KEY_MAX = 64
IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9._:-]+$"
"""A client's key for one new order (header ``Idempotency-Key``, the web form's hidden
``request_id``): the order's ``source_ref`` is ``manual:<key>`` (7 + 64 <= 80)."""
ExpectedKg = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]
ExpectedContainers = Annotated[int, Field(ge=1, le=1000)]
LineDescription = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul
]
LineQuantity = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=4)]
UnitPrice = Annotated[Decimal, Field(max_digits=12, decimal_places=4)]
"""May be negative: a discount line."""
MAX_LINES = 100


def _filter_year(value: date) -> date:
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"must lie in the years {MIN_YEAR} to {MAX_YEAR}")
    return value


FilterDate = Annotated[date, AfterValidator(_filter_year)]
"""A date to filter lists by (query strings): in the years the API accepts at all."""


class OrderLineIn(BaseModel):
    """Something to invoice for the order. ``quantity`` empty: taken from the execution (the
    weighed net, the containers moved); ``unit_price`` empty: the customer's tariff at
    invoicing. Positions are the order of the list (1..n)."""

    model_config = ConfigDict(extra="forbid")

    article_id: DbId
    description: LineDescription | None = None
    quantity: LineQuantity | None = None
    unit_price: UnitPrice | None = None


def _window_ok(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ValueError(
            f"window_end: {end.isoformat()} must be after window_start {start.isoformat()}"
        )


class OrderCreate(BaseModel):
    """A new order. References are resolved within the caller's tenant and the order's
    customer (``cloud.orders.validation``). ``material`` is free text for orders without a
    ``material_id``; with one, the order shows the material's description. A
    ``waste_stream_id`` without a ``material_id`` takes the stream's material."""

    model_config = ConfigDict(extra="forbid")

    customer_id: DbId
    order_type: OrderType
    site_id: DbId | None = None
    vehicle_id: DbId | None = None
    container_id: DbId | None = None
    material_id: DbId | None = None
    waste_stream_id: DbId | None = None
    material: Material | None = None
    requested_date: date | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    container_type: ContainerType | None = None
    expected_quantity_kg: ExpectedKg | None = None
    expected_containers: ExpectedContainers | None = None
    reference: Reference | None = None
    notes: Notes | None = None
    lines: list[OrderLineIn] = Field(default_factory=list, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _window_in_order(self) -> OrderCreate:
        _window_ok(self.window_start, self.window_end)
        return self


NOT_NULL = ("customer_id", "order_type")


class OrderUpdate(BaseModel):
    """A change to an order: only the fields sent change (``null`` clears an optional field;
    ``lines`` replaces all lines). Before execution planners may change an order; after it
    only an administrator or owner, and only with a ``reason``. Weighed facts (the actual
    quantity, the weighings) are never changed here."""

    model_config = ConfigDict(extra="forbid")

    customer_id: DbId | None = None
    order_type: OrderType | None = None
    site_id: DbId | None = None
    vehicle_id: DbId | None = None
    container_id: DbId | None = None
    material_id: DbId | None = None
    waste_stream_id: DbId | None = None
    material: Material | None = None
    requested_date: date | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    container_type: ContainerType | None = None
    expected_quantity_kg: ExpectedKg | None = None
    expected_containers: ExpectedContainers | None = None
    reference: Reference | None = None
    notes: Notes | None = None
    lines: list[OrderLineIn] | None = Field(default=None, max_length=MAX_LINES)
    reason: Reason | None = None

    @model_validator(mode="after")
    def _checks(self) -> OrderUpdate:
        for name in (*NOT_NULL, "lines"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: cannot be empty")
        _window_ok(self.window_start, self.window_end)
        return self

    def changes(self) -> dict[str, object]:
        """The order fields sent (not the reason)."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "reason"}


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class DispatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sequence: int = Field(default=0, ge=0, le=10_000)


class DispatchRead(BaseModel):
    device_id: str
    job_id: str
    revision: int | None


class StatusChangeRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_status: str | None
    to_status: str
    at: datetime
    by_user_id: int | None
    by_device_id: str | None
    reason: str | None


class HistoryEntry(BaseModel):
    """One line of an order's history: a status change (``field`` is ``status``) or a
    changed field, oldest first."""

    kind: Literal["status", "field"]
    at: datetime
    field: str
    old_value: str | None
    new_value: str | None
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


class OrderLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    position: int
    article_id: int
    description: str | None
    quantity: Decimal | None
    unit_price: Decimal | None


class OrderDocumentRead(BaseModel):
    """A document of the order, as listed with it (download:
    ``GET /api/v1/documents/{id}/content``)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    stored: bool
    created_at: datetime


class OrderSummary(BaseModel):
    """An order as lists show it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    order_type: OrderType
    source: OrderSource
    source_ref: str | None
    status: OrderStatus
    customer_id: int
    customer_name: str
    site_id: int | None
    vehicle_id: int | None
    plate: str | None
    container_id: int | None
    material_id: int | None
    waste_stream_id: int | None
    material: str | None
    requested_date: date | None
    window_start: datetime | None
    window_end: datetime | None
    container_type: str | None
    expected_quantity_kg: Decimal | None
    expected_containers: int | None
    reference: str | None
    notes: str | None
    actual_quantity_kg: Decimal | None
    actual_counts: dict[str, int]
    needs_review: bool
    review_reasons: list[str]
    created_at: datetime
    created_by_user_id: int | None
    updated_at: datetime
    executed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    weighings: list[WeighingSummary] = []


class OrderRead(OrderSummary):
    """One order in full: with its lines, documents and status history."""

    lines: list[OrderLineRead] = []
    documents: list[OrderDocumentRead] = []
    history: list[StatusChangeRead] = []


class ReadingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    time: datetime
    channel: str
    kind: str
    value: Decimal | None
    unit: str | None
    stable: bool | None
    mode: str | None
    condition: str
    tag_id: str | None


class OrderMeasurements(BaseModel):
    """The readings of the device that executed the order, in the order's time window."""

    device_id: str | None
    start: datetime | None
    end: datetime | None
    readings: list[ReadingRead]


class OrderPage(BaseModel):
    """A page of a keyset-paged list: ``next`` is the ``after`` of the following page
    (``null``: this is the last page)."""

    items: list[OrderSummary]
    next: str | None
    limit: int
