"""Time series: weights/tags and positions. TimescaleDB hypertables on PostgreSQL (created
in a migration when the extension is available); plain tables on SQLite.

Deduplication happens per message in ``ingest_receipts``, so these tables need no unique key
of their own; the primary key includes the time column, as hypertables require."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal, UTCDateTime


class Measurement(Base):
    __tablename__ = "measurements"

    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idx: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(8))  # weight | tag
    value: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 6))
    unit: Mapped[str | None] = mapped_column(String(4))
    stable: Mapped[bool | None] = mapped_column(Boolean)
    mode: Mapped[str | None] = mapped_column(String(5))
    tare: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 6))
    condition: Mapped[str] = mapped_column(String(10), default="ok")
    tag_id: Mapped[str | None] = mapped_column(String(20))


class Position(Base):
    __tablename__ = "positions"

    time: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idx: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    device_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    lat: Mapped[Decimal] = mapped_column(ExactDecimal(10, 7))
    lon: Mapped[Decimal] = mapped_column(ExactDecimal(11, 7))
    speed_kmh: Mapped[Decimal | None] = mapped_column(ExactDecimal(6, 2))
    course: Mapped[Decimal | None] = mapped_column(ExactDecimal(5, 2))
    satellites: Mapped[int | None] = mapped_column(SmallInteger)
