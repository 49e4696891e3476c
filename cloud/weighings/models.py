from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal, UTCDateTime, utcnow


class Weighing(Base):
    """A weighing ticket (weegbon) exactly as the weighbridge reported it. Weights are stored
    as sent, never rounded; corrections happen on the order, with an audit trail."""

    __tablename__ = "weighings"
    __table_args__ = (
        UniqueConstraint("message_id"),
        UniqueConstraint("tenant_id", "instrument_id", "ticket_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    ticket_number: Mapped[str] = mapped_column(String(64))
    instrument_id: Mapped[str] = mapped_column(String(64))
    alibi_id: Mapped[str | None] = mapped_column(String(64))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_weight: Mapped[Decimal] = mapped_column(ExactDecimal(14, 4))
    first_alibi_id: Mapped[str | None] = mapped_column(String(64))
    first_manual: Mapped[bool] = mapped_column(Boolean, default=False)
    second_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    second_weight: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 4))
    second_alibi_id: Mapped[str | None] = mapped_column(String(64))
    second_manual: Mapped[bool | None] = mapped_column(Boolean)
    unit: Mapped[str] = mapped_column(String(4))
    gross: Mapped[Decimal] = mapped_column(ExactDecimal(14, 4))
    tare: Mapped[Decimal] = mapped_column(ExactDecimal(14, 4))
    net: Mapped[Decimal] = mapped_column(ExactDecimal(14, 4))
    tare_kind: Mapped[str] = mapped_column(String(10))
    plate: Mapped[str | None] = mapped_column(String(64))
    rfid_card: Mapped[str | None] = mapped_column(String(64))
    material: Mapped[str | None] = mapped_column(String(64))
    customer_reference: Mapped[str | None] = mapped_column(String(64))
    document_sha256: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
