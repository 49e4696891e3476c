"""The v1 messages exchanged between edge agents and the cloud.

Every message is an envelope (``message_id``, ``device_id``, ``seq``, ``occurred_at``,
``schema_version``) plus a ``type`` that equals the topic stream it travels on.

Rules that both sides rely on:

* Weights are ``Decimal`` (serialised as JSON strings, so nothing passes through a float) in the
  unit that the instrument showed. A weight that the scale did not show is ``None`` with a
  ``condition`` that says why; it is never 0.
* Times are timezone-aware.
* ``seq`` is per device and monotonic. Facts that go through the agent's outbox (measurement,
  weighing, job-update, pod, order) each take the next ``seq``, so the cloud can detect gaps.
  Presence messages (heartbeat, status) carry the latest ``seq`` the device has assigned and do
  not take a new one. Down-link ``Receipt`` messages carry ``seq`` 0; other down-link messages
  carry a per-device counter kept by the cloud.
* Consumers ignore fields they do not know (changes within v1 are additive).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal, get_args
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

SCHEMA_VERSION: Final = 1
MAX_PAYLOAD_BYTES = 256 * 1024
"""Largest message accepted on the MQTT path; images and PDFs go over HTTPS instead."""

DeviceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Channel = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Weight = Annotated[Decimal, Field(allow_inf_nan=False, max_digits=12, decimal_places=6)]
Unit = Literal["kg", "g", "t", "lb"]
Condition = Literal["ok", "overload", "underload", "error"]
Mode = Literal["gross", "net"]
JobEvent = Literal["arrived", "started", "completed", "failed"]
WeightSource = Literal["scale", "manual"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(_Frozen):
    message_id: UUID
    device_id: DeviceId
    seq: int = Field(ge=0)
    occurred_at: AwareDatetime
    schema_version: Literal[1] = SCHEMA_VERSION
    type: str
    """The message stream; each message narrows it to its own ``Literal`` with a default."""


# ---------------------------------------------------------------------------------------------
# Measurements: a batch of readings (an agent sampling at 10 Hz sends one message a second)


class WeightReading(_Frozen):
    kind: Literal["weight"] = "weight"
    at: AwareDatetime
    channel: Channel
    value: Weight | None = None
    unit: Unit | None = None
    stable: bool | None = None
    mode: Mode | None = None
    tare: Weight | None = None
    condition: Condition = "ok"

    @model_validator(mode="after")
    def _value_matches_condition(self) -> WeightReading:
        if self.condition == "ok" and (self.value is None or self.unit is None):
            raise ValueError("a weight with condition 'ok' needs a value and a unit")
        if self.condition != "ok" and self.value is not None:
            raise ValueError(f"a weight with condition {self.condition!r} carries no value")
        return self


class PositionReading(_Frozen):
    kind: Literal["position"] = "position"
    at: AwareDatetime
    channel: Channel
    lat: Annotated[Decimal, Field(ge=-90, le=90, max_digits=10, decimal_places=7)]
    lon: Annotated[Decimal, Field(ge=-180, le=180, max_digits=11, decimal_places=7)]
    speed_kmh: Annotated[Decimal, Field(ge=0, max_digits=6, decimal_places=2)] | None = None
    course: Annotated[Decimal, Field(ge=0, lt=360, max_digits=5, decimal_places=2)] | None = None
    satellites: Annotated[int, Field(ge=0, le=99)] | None = None


class TagReading(_Frozen):
    kind: Literal["tag"] = "tag"
    at: AwareDatetime
    channel: Channel
    tag_id: Annotated[str, StringConstraints(pattern=r"^(?:[0-9A-F]{10}|[0-9]{15})$")]
    """EM4100: 10 upper-case hex digits; ISO 11784: 15 digits (3 country + 12 national)."""


Reading = Annotated[WeightReading | PositionReading | TagReading, Field(discriminator="kind")]


class Measurement(Envelope):
    type: Literal["measurement"] = "measurement"
    readings: list[Reading] = Field(min_length=1, max_length=2000)


# ---------------------------------------------------------------------------------------------
# Weighbridge


class WeighingPass(_Frozen):
    at: AwareDatetime
    weight: Weight = Field(ge=0)
    alibi_id: ShortText | None = None
    """The indicator's alibi-memory record id for this pass, where the protocol gives one."""
    manual: bool = False
    """Typed in by an operator instead of read from the scale (shown as such on the ticket)."""


class WeighingTicket(Envelope):
    type: Literal["weighing"] = "weighing"
    ticket_number: ShortText
    instrument_id: ShortText
    alibi_id: ShortText | None = None
    first: WeighingPass
    second: WeighingPass | None = None
    unit: Literal["kg", "t", "lb"] = "kg"
    gross: Weight = Field(ge=0)
    tare: Weight = Field(ge=0)
    net: Weight
    tare_kind: Literal["measured", "stored", "manual"]
    plate: ShortText | None = None
    rfid_card: ShortText | None = None
    material: ShortText | None = None
    customer_reference: ShortText | None = None
    site_id: ShortText | None = None
    document_sha256: Sha256 | None = None
    """sha256 of the ticket document the agent keeps and uploads over HTTPS."""

    @model_validator(mode="after")
    def _weights_add_up(self) -> WeighingTicket:
        if self.net != self.gross - self.tare:
            raise ValueError(f"net {self.net} != gross {self.gross} - tare {self.tare}")
        if self.tare_kind == "measured":
            if self.second is None:
                raise ValueError("a measured tare needs a second weighing")
            passes = sorted((self.first.weight, self.second.weight))
            if passes != [self.tare, self.gross]:
                raise ValueError("gross and tare must be the two weighings (larger is gross)")
            if self.second.at < self.first.at:
                raise ValueError("the second weighing is earlier than the first")
        else:
            if self.second is not None:
                raise ValueError(f"a {self.tare_kind} tare means a single weighing")
            if self.first.weight != self.gross:
                raise ValueError("with a stored or manual tare the weighing is the gross")
        return self


# ---------------------------------------------------------------------------------------------
# Presence


class PortStatus(_Frozen):
    name: Channel
    role: Literal["weighbridge", "onboard", "gps", "rfid"]
    profile: ShortText
    connected: bool
    last_reading_at: AwareDatetime | None = None
    frames_ok: int = Field(default=0, ge=0)
    frames_bad: int = Field(default=0, ge=0)
    last_error: Text | None = None


class Heartbeat(Envelope):
    type: Literal["heartbeat"] = "heartbeat"
    software_version: ShortText
    uptime_s: int = Field(ge=0)
    ports: list[PortStatus] = Field(default_factory=list, max_length=32)
    outbox_backlog: int = Field(ge=0)
    outbox_bytes: int = Field(ge=0)
    outbox_budget_bytes: int = Field(ge=0)
    outbox_alarm: bool = False
    thinned_measurements: int = Field(default=0, ge=0)


class Status(Envelope):
    """Retained presence message; the agent's last will says ``online: false``."""

    type: Literal["status"] = "status"
    online: bool
    reason: Text | None = None
    software_version: ShortText | None = None


# ---------------------------------------------------------------------------------------------
# Jobs (on-board computer)


class Job(_Frozen):
    job_id: ShortText
    order_number: ShortText
    revision: int = Field(default=1, ge=1)
    sequence: int = Field(ge=0)
    kind: Literal["place", "exchange", "collect", "empty", "deliver", "transport", "other"]
    planned_date: date
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    customer_name: ShortText | None = None
    site_name: Annotated[str, StringConstraints(max_length=200)] | None = None
    address: Annotated[str, StringConstraints(max_length=300)] | None = None
    lat: Annotated[Decimal, Field(ge=-90, le=90)] | None = None
    lon: Annotated[Decimal, Field(ge=-180, le=180)] | None = None
    container_type: ShortText | None = None
    container_number: ShortText | None = None
    material: ShortText | None = None
    instructions: Text | None = None
    expected_weight_kg: Weight | None = None


class JobDispatch(Envelope):
    type: Literal["job"] = "job"
    action: Literal["upsert", "cancel"]
    job_id: ShortText
    job: Job | None = None

    @model_validator(mode="after")
    def _job_for_upsert(self) -> JobDispatch:
        if self.action == "upsert" and (self.job is None or self.job.job_id != self.job_id):
            raise ValueError("an upsert carries the job with the same job_id")
        return self


class JobWeight(_Frozen):
    at: AwareDatetime
    value: Weight
    unit: Unit
    mode: Mode = "gross"
    source: WeightSource = "scale"
    tag_id: Annotated[str, StringConstraints(pattern=r"^(?:[0-9A-F]{10}|[0-9]{15})$")] | None = None
    """RFID tag of the bin lifted, for bin-lift weighings."""


class JobUpdate(Envelope):
    type: Literal["job-update"] = "job-update"
    job_id: ShortText
    event: JobEvent
    counts: dict[Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")], int] = Field(
        default_factory=dict
    )
    weights: list[JobWeight] = Field(default_factory=list, max_length=500)
    notes: Text | None = None
    reason: Text | None = None
    lat: Annotated[Decimal, Field(ge=-90, le=90)] | None = None
    lon: Annotated[Decimal, Field(ge=-180, le=180)] | None = None

    @model_validator(mode="after")
    def _failure_has_reason(self) -> JobUpdate:
        if self.event == "failed" and not self.reason:
            raise ValueError("a failed job needs a reason")
        if any(v < 0 for v in self.counts.values()):
            raise ValueError("counts cannot be negative")
        return self


class Attachment(_Frozen):
    sha256: Sha256
    content_type: Literal["image/jpeg", "image/png", "application/pdf", "text/plain"]
    size: int = Field(gt=0, le=20 * 1024 * 1024)
    filename: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
    original_sha256: Sha256 | None = None
    """sha256 of the file as captured, before EXIF was stripped and it was re-encoded."""


class ProofOfDelivery(Envelope):
    type: Literal["pod"] = "pod"
    job_id: ShortText
    signer_name: Annotated[str, StringConstraints(max_length=120)] | None = None
    signed_at: AwareDatetime | None = None
    signature: Attachment | None = None
    photos: list[Attachment] = Field(default_factory=list, max_length=20)
    notes: Text | None = None


# ---------------------------------------------------------------------------------------------
# Orders made by the driver (on-board page)

DriverOrderType = Literal[
    "container_place",
    "container_exchange",
    "container_collect",
    "bulk_transport",
    "other",
]
"""The order types a driver may make: the cloud's order types (``cloud.orders.models.OrderType``,
checked by a test) except ``walk_in``, which only a weighing makes."""
DRIVER_ORDER_TYPES: tuple[str, ...] = get_args(DriverOrderType)
CustomerNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=20, strip_whitespace=True)
]
PostalCode = Annotated[str, StringConstraints(min_length=1, max_length=10, strip_whitespace=True)]


class OrderRequest(Envelope):
    """A new order the driver made on the truck's page: a customer at the roadside asks for a
    container, an extra collection is agreed on the spot.

    ``client_order_id`` is made on the truck when the form is opened and is the idempotency key
    of the order (a form sent twice, or a message delivered twice, makes one order). The
    customer is named by number when the driver knows it, else by name. The place is address
    text and a postal code. No weights: a driver-made order asks for work, and any weight is
    measured later by the job or at the weighbridge. The cloud always puts the order in front
    of the office for review."""

    type: Literal["order"] = "order"
    client_order_id: UUID
    order_type: DriverOrderType
    customer_number: CustomerNumber | None = None
    customer_name: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
        | None
    ) = None
    address: (
        Annotated[str, StringConstraints(min_length=1, max_length=300, strip_whitespace=True)]
        | None
    ) = None
    postal_code: PostalCode | None = None
    material: ShortText | None = None
    """A material code the office knows, or the material in the driver's words."""
    container_type: (
        Annotated[str, StringConstraints(min_length=1, max_length=60, strip_whitespace=True)] | None
    ) = None
    container_number: ShortText | None = None
    requested_date: date | None = None
    reference: ShortText | None = None
    """The customer's own reference (a purchase order number)."""
    notes: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @model_validator(mode="after")
    def _names_a_customer(self) -> OrderRequest:
        if self.customer_number is None and self.customer_name is None:
            raise ValueError("an order names its customer: a customer number or a name")
        return self


# ---------------------------------------------------------------------------------------------
# Receipts (down)


class Rejection(_Frozen):
    message_id: UUID
    reason: Text


class Receipt(Envelope):
    """Names the messages whose facts are committed in the cloud database (``committed``) or were
    refused for good and kept in the dead-letter table (``rejected``). Only now may the agent
    drop them from its outbox."""

    type: Literal["receipt"] = "receipt"
    committed: list[UUID] = Field(default_factory=list, max_length=5000)
    rejected: list[Rejection] = Field(default_factory=list, max_length=5000)


# ---------------------------------------------------------------------------------------------
# Device configuration (down): data the office manages that the device needs offline


class VehicleTare(_Frozen):
    """A vehicle's stored tare, for single-pass weighing at the weighbridge."""

    plate: ShortText | None = None
    rfid_card: ShortText | None = None
    stored_tare: Weight = Field(gt=0)
    unit: Literal["kg", "t", "lb"] = "kg"
    valid_until: date | None = None

    @model_validator(mode="after")
    def _identified(self) -> VehicleTare:
        if not (self.plate or self.rfid_card):
            raise ValueError("a stored tare needs a plate or an RFID card")
        return self


class DeviceConfig(Envelope):
    """Replaces the device's copy as a whole; a lower ``revision`` than the one kept is ignored."""

    type: Literal["config"] = "config"
    revision: int = Field(ge=1)
    vehicles: list[VehicleTare] = Field(default_factory=list, max_length=5000)


UpMessage = Annotated[
    Measurement | WeighingTicket | JobUpdate | ProofOfDelivery | OrderRequest | Heartbeat | Status,
    Field(discriminator="type"),
]
DownMessage = Annotated[Receipt | JobDispatch | DeviceConfig, Field(discriminator="type")]
Message = Annotated[
    Measurement
    | WeighingTicket
    | JobUpdate
    | ProofOfDelivery
    | OrderRequest
    | Heartbeat
    | Status
    | Receipt
    | JobDispatch
    | DeviceConfig,
    Field(discriminator="type"),
]

ALL_MESSAGES: tuple[type[Envelope], ...] = (
    Measurement,
    WeighingTicket,
    JobUpdate,
    ProofOfDelivery,
    OrderRequest,
    Heartbeat,
    Status,
    Receipt,
    JobDispatch,
    DeviceConfig,
)
OUTBOX_TYPES = frozenset({"measurement", "weighing", "job-update", "pod", "order"})
"""Types that go through the agent's outbox and take a new ``seq``."""
