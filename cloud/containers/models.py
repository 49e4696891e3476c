from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal, UTCDateTime

LOCATION_KINDS = ("yard", "site", "vehicle", "unknown")


class Container(Base):
    __tablename__ = "containers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "rfid_tag"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    container_type: Mapped[str] = mapped_column(String(60))
    """e.g. ``afzetcontainer``, ``rolcontainer``, ``minicontainer``: matched against a
    vehicle's ``allowed_container_types``."""
    volume_m3: Mapped[Decimal | None] = mapped_column(ExactDecimal(8, 3))
    rfid_tag: Mapped[str | None] = mapped_column(String(32))
    location_kind: Mapped[str] = mapped_column(String(10), default="yard")
    """``yard`` | ``site`` (a customer site, ``site_id``) | ``vehicle`` (``vehicle_id``) |
    ``unknown``. A yard is a site of kind ``own_yard`` when ``site_id`` is set."""
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    located_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    """The order that moved it last (placement, exchange, collection)."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
