from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db import Base, ExactDecimal, UTCDateTime, utcnow
from cloud.orders.lifecycle import OrderStatus

ORDER_TYPES = (
    "walk_in",
    "container_place",
    "container_exchange",
    "container_collect",
    "bulk_transport",
    "other",
)
SOURCES = ("manual", "portal", "webshop", "weighing", "driver", "schedule")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "source_ref"),
        Index("ix_orders_tenant_status", "tenant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(20))
    order_type: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str | None] = mapped_column(String(80))
    """Idempotency key of automatic intake (e.g. ``weighing:<message_id>``)."""
    status: Mapped[str] = mapped_column(String(30), default=OrderStatus.CREATED.value)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    material: Mapped[str | None] = mapped_column(String(100))
    requested_date: Mapped[date | None] = mapped_column(Date)
    window_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    window_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    container_type: Mapped[str | None] = mapped_column(String(60))
    expected_quantity_kg: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    reference: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    actual_quantity_kg: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 4))
    """What was weighed: the weighing's net, or the sum of net weights the truck recorded."""
    actual_counts: Mapped[dict[str, int]] = mapped_column(
        JSON, default=dict, server_default=text("'{}'")
    )
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    review_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    executed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    history: Mapped[list[OrderStatusChange]] = relationship(
        order_by="OrderStatusChange.id", lazy="raise", cascade="all, delete-orphan"
    )


class OrderStatusChange(Base):
    """Audit row for every status change: who, when, from, to, why."""

    __tablename__ = "order_status_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(30))
    to_status: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by_device_id: Mapped[str | None] = mapped_column(ForeignKey("devices.id"))
    reason: Mapped[str | None] = mapped_column(String(500))
