from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal, UTCDateTime, utcnow


class Schedule(Base):
    """Makes an order on each matching day, ``days_ahead`` days in advance. Each order's
    ``source_ref`` is ``schedule:<id>:<date>``, so running twice never makes one twice."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    order_type: Mapped[str] = mapped_column(String(30))
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    container_id: Mapped[int | None] = mapped_column(ForeignKey("containers.id"))
    container_type: Mapped[str | None] = mapped_column(String(60))
    expected_quantity_kg: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
    """ISO weekdays, 1 (Monday) to 7 (Sunday)."""
    every_n_weeks: Mapped[int] = mapped_column(Integer, default=1)
    start_date: Mapped[date] = mapped_column(Date)
    """Weeks are counted from the Monday of this date."""
    until_date: Mapped[date | None] = mapped_column(Date)
    days_ahead: Mapped[int] = mapped_column(Integer, default=14)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    generated_until: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
