from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, UTCDateTime, utcnow


class OutboxJob(Base):
    """Work to do after a commit (publish a job to a truck, send an e-mail, book an invoice),
    written in the same transaction as the change that causes it, so a rollback sends nothing
    and a crash after the commit loses nothing."""

    __tablename__ = "outbox_jobs"
    __table_args__ = (Index("ix_outbox_jobs_pending", "kind", "done_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    kind: Mapped[str] = mapped_column(String(30))  # mqtt_publish | ...
    target: Mapped[str] = mapped_column(String(300))  # topic, address, ...
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
