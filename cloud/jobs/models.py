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


class JobAssignment(Base):
    """Which device an order was dispatched to: the only device that may report on it (job
    updates, proofs of delivery). Written by ``dispatch_order`` in the dispatching transaction.

    One row per (order, device). Re-dispatching the order to another device withdraws the
    earlier rows (``withdrawn_at``); a withdrawn device may still report what happened before
    the withdrawal, nothing after it."""

    __tablename__ = "job_assignments"
    __table_args__ = (UniqueConstraint("order_id", "device_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    revision: Mapped[int] = mapped_column(BigInteger)
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
