from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, UTCDateTime, utcnow


class IngestReceipt(Base):
    """One row per message whose facts are committed: the deduplication key (``message_id``)
    lives here rather than in the hypertables, whose unique keys must include time."""

    __tablename__ = "ingest_receipts"
    __table_args__ = (Index("ix_ingest_receipts_device_seq", "device_id", "seq"),)

    message_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64))
    tenant_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeadLetter(Base):
    """A message ingest refused, with the reason and a bounded prefix of the raw bytes plus
    their full size and sha256 (global, not per tenant: an unknown device has no tenant).
    How many are kept per device is limited; see
    :class:`cloud.devices.models.DeadLetterCounter`."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    topic: Mapped[str] = mapped_column(String(300))
    device_id: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    """The first ``dead_letter_payload_prefix_bytes`` of the payload."""
    payload_size: Mapped[int] = mapped_column(Integer)
    """The size of the whole payload as received."""
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    """sha256 of the whole payload (None on rows from before it was recorded)."""
