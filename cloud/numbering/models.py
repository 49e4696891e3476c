from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base


class NumberSeries(Base):
    """One counter per tenant and purpose (``order``, later ``invoice``, ``credit_note``).

    The next number is taken under a row lock in the caller's transaction, so a rolled-back
    transaction gives its number back and no number is skipped: never a database sequence."""

    __tablename__ = "number_series"
    __table_args__ = (UniqueConstraint("tenant_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    purpose: Mapped[str] = mapped_column(String(30))
    prefix: Mapped[str] = mapped_column(String(20), default="")
    next_value: Mapped[int] = mapped_column(Integer, default=1)
    width: Mapped[int] = mapped_column(Integer, default=6)
