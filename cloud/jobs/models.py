from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal, UTCDateTime, utcnow


class JobEvent(Base):
    """What the truck reported about a job: arrived, started, completed or failed, with the
    counts, weights and notes of that moment, exactly as sent."""

    __tablename__ = "job_events"
    __table_args__ = (UniqueConstraint("message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    message_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    event: Mapped[str] = mapped_column(String(12))
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    weights: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[Decimal | None] = mapped_column(ExactDecimal(10, 7))
    lon: Mapped[Decimal | None] = mapped_column(ExactDecimal(11, 7))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ProofOfDelivery(Base):
    __tablename__ = "proofs_of_delivery"
    __table_args__ = (UniqueConstraint("message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"))
    message_id: Mapped[str] = mapped_column(String(36))
    signer_name: Mapped[str | None] = mapped_column(String(120))
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    signature_sha256: Mapped[str | None] = mapped_column(String(64))
    photo_sha256s: Mapped[list[str]] = mapped_column(JSON, default=list)
    notes: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
