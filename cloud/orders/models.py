from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cloud.db import Base, ExactDecimal, UTCDateTime, utcnow
from cloud.orders.lifecycle import OrderStatus


class OrderType(StrEnum):
    """The one definition of order types (schemas, forms and the database use this)."""

    WALK_IN = "walk_in"
    CONTAINER_PLACE = "container_place"
    CONTAINER_EXCHANGE = "container_exchange"
    CONTAINER_COLLECT = "container_collect"
    BULK_TRANSPORT = "bulk_transport"
    OTHER = "other"


class OrderSource(StrEnum):
    """The intake channel an order came through; ``source_ref`` is its idempotency key."""

    MANUAL = "manual"
    PORTAL = "portal"
    WEBSHOP = "webshop"
    WEIGHING = "weighing"
    DRIVER = "driver"
    SCHEDULE = "schedule"


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "source_ref"),
        # Keyset paging (``cloud.orders.repository``): every list is ``ORDER BY id DESC``
        # within a tenant, so each filter the list offers has an index ending in ``id``; a
        # list filtered by requested date is ``ORDER BY requested_date DESC, id DESC``.
        Index("ix_orders_tenant_id_id", "tenant_id", "id"),
        Index("ix_orders_tenant_status_id", "tenant_id", "status", "id"),
        Index("ix_orders_tenant_customer_id", "tenant_id", "customer_id", "id"),
        Index("ix_orders_tenant_customer_status_id", "tenant_id", "customer_id", "status", "id"),
        Index("ix_orders_tenant_requested_date", "tenant_id", "requested_date", "id"),
        # The order bin: unplanned orders by requested date (``repository.bin_page``).
        Index(
            "ix_orders_bin",
            "tenant_id",
            "requested_date",
            "id",
            postgresql_where=text("status = 'created'"),
            sqlite_where=text("status = 'created'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(20))
    order_type: Mapped[str] = mapped_column(String(30))
    source: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str | None] = mapped_column(String(80))
    """Idempotency key of automatic intake (e.g. ``weighing:<message_id>``)."""
    status: Mapped[str] = mapped_column(String(30), default=OrderStatus.CREATED.value)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    material: Mapped[str | None] = mapped_column(String(100))
    """What the truck and the ticket show: the description of ``material_id`` when the order
    names a material, else free text (a weighing's material as typed at the weighbridge)."""
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
    container_id: Mapped[int | None] = mapped_column(ForeignKey("containers.id"))
    material_id: Mapped[int | None] = mapped_column(ForeignKey("materials.id"))
    waste_stream_id: Mapped[int | None] = mapped_column(ForeignKey("waste_streams.id"))
    expected_containers: Mapped[int | None] = mapped_column(Integer)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    lines: Mapped[list[OrderLine]] = relationship(
        order_by="OrderLine.position", lazy="raise", cascade="all, delete-orphan"
    )

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


class OrderLine(Base):
    """Something to invoice for this order: an article, a quantity, and (when agreed on the
    order itself) a price. Weighed quantities come from the weighing, never typed over."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))
    description: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[Decimal | None] = mapped_column(ExactDecimal(14, 4))
    """``None``: from the execution (the weighed net, the number of containers)."""
    unit_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 4))
    """``None``: from the customer's tariff at invoicing."""
