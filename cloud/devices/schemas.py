"""Device API input/output. Weights are ``Decimal`` (JSON strings), times are aware UTC."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.types import DbId

Presence = Literal["online", "offline", "silent", "revoked", "never_seen"]


class DeviceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(max_length=64, description="[a-z0-9-]: a topic level and broker user name")
    kind: Literal["weighbridge", "truck"]
    name: str | None = Field(default=None, max_length=200)
    vehicle_id: DbId | None = None
    site_id: DbId | None = None


class DeviceRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=200)


class PortRead(BaseModel):
    """One serial port as the last heartbeat described it."""

    model_config = ConfigDict(extra="ignore")

    name: str
    role: str | None = None
    profile: str | None = None
    connected: bool
    last_reading_at: datetime | None = None
    frames_ok: int = 0
    frames_bad: int = 0
    last_error: str | None = None


class OutboxRead(BaseModel):
    backlog: int
    bytes: int
    budget_bytes: int
    alarm: bool
    thinned_measurements: int = 0


class LastReading(BaseModel):
    """The newest stored reading of one channel (weight or tag)."""

    channel: str
    kind: str
    time: datetime
    value: Decimal | None = None
    unit: str | None = None
    stable: bool | None = None
    mode: str | None = None
    condition: str | None = None
    tag_id: str | None = None


class DeadLetterCounts(BaseModel):
    """Messages of this device that ingest refused: ``kept`` as dead letters, ``suppressed``
    (counted only) beyond the per-device rate limit."""

    kept: int = 0
    suppressed: int = 0
    last_kept_at: datetime | None = None
    last_suppressed_at: datetime | None = None


class DeviceRead(BaseModel):
    id: str
    kind: str
    name: str | None
    vehicle_id: int | None
    vehicle_plate: str | None
    site_id: int | None
    site_name: str | None
    state: Presence
    online: bool
    """``state == "online"``: reported online and heard from within the last 120 s."""
    reported_online: bool
    """What the device (or its last will) last said, before the staleness rule."""
    last_seen_at: datetime | None
    software_version: str | None
    last_seq: int | None
    seq_gaps: list[tuple[int, int]]
    """Ranges of ``seq`` the device used that never arrived (or were refused), oldest first."""
    missing_seqs: int
    clock_offset_s: int | None
    clock_drift: bool
    heartbeat_at: datetime | None
    uptime_s: int | None
    outbox: OutboxRead | None
    ports: list[PortRead]
    last_readings: list[LastReading]
    dead_letters: DeadLetterCounts = Field(default_factory=DeadLetterCounts)
    revoked_at: datetime | None
    created_at: datetime


class DeviceCredentials(BaseModel):
    """Shown once: only the hash is stored."""

    device_id: str
    username: str
    password: str
    note: str = (
        "Store the password on the device now; it is not shown again. The broker accepts it "
        "after `oms broker config` and a broker restart."
    )


class DeviceRegistered(BaseModel):
    device: DeviceRead
    credentials: DeviceCredentials


class MeasurementBucket(BaseModel):
    time: datetime
    channel: str
    unit: str | None
    count: int
    min: Decimal
    max: Decimal
    avg: Decimal
    """Rounded to 3 decimals (half even); min, max and last are exact."""
    last: Decimal


class MeasurementSeries(BaseModel):
    device_id: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    bucket: str
    items: list[MeasurementBucket]


class PositionPoint(BaseModel):
    time: datetime
    channel: str
    lat: Decimal
    lon: Decimal
    speed_kmh: Decimal | None
    course: Decimal | None
    satellites: int | None


class PositionTrack(BaseModel):
    device_id: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    truncated: bool
    """True when ``limit`` cut the track: ask again from the last point's time."""
    items: list[PositionPoint]
