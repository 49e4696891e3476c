from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, UTCDateTime, utcnow

UNREGISTERED = "(unregistered)"
"""The dead-letter source of every sender without a device row (never a valid device id)."""


class Device(Base):
    """An edge agent (truck on-board computer or weighbridge terminal). The id is global and
    restricted to ``[a-z0-9-]`` because it is a topic level and part of broker ACLs."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # weighbridge | truck
    name: Mapped[str | None] = mapped_column(String(200))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    credential_hash: Mapped[str | None] = mapped_column(String(255))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    seq_gaps: Mapped[list[list[int]] | None] = mapped_column(JSON)
    """Open gaps in the device's ``seq``: ``[[first, last], ...]`` (devices.service.track_seq)."""
    down_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    software_version: Mapped[str | None] = mapped_column(String(64))
    clock_offset_s: Mapped[int | None] = mapped_column(Integer)
    """Device clock minus ours at the last message, rounded; large values are flagged."""
    last_heartbeat: Mapped[dict | None] = mapped_column(JSON)


class DeadLetterCounter(Base):
    """Dead-lettering by ingest per source, in a fixed window: what was kept, what was only
    counted (shown in the device status).

    ``source`` is a registered device id, or :data:`UNREGISTERED` for every sender that has no
    device row: one shared bucket, so a flood of made-up ids can grow neither this table nor
    the dead letters without bound. No foreign key: the shared bucket names no device."""

    __tablename__ = "dead_letter_counters"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime())
    window_kept: Mapped[int] = mapped_column(Integer)
    window_suppressed: Mapped[int] = mapped_column(Integer)
    kept: Mapped[int] = mapped_column(BigInteger)
    suppressed: Mapped[int] = mapped_column(BigInteger)
    last_kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
