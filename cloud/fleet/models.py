from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal


class Vehicle(Base):
    """A truck of our own fleet, or (with ``customer_id``) a customer's vehicle that delivers
    at our weighbridge."""

    __tablename__ = "vehicles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "plate_key"),
        UniqueConstraint("tenant_id", "rfid_card"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    plate: Mapped[str] = mapped_column(String(20))
    plate_key: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(40), default="truck")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    rfid_card: Mapped[str | None] = mapped_column(String(32))
    max_load_kg: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    stored_tare_kg: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 3))
    stored_tare_valid_until: Mapped[date | None] = mapped_column(Date)
    driver_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    """The user (role driver) who drives this vehicle now: what a driver sees through the API
    until routes (vehicle + driver + day) replace it in the planning issue."""
    vehicle_type: Mapped[str | None] = mapped_column(String(40))
    """What it is: ``kipper``, ``haakarm`` (hook lift), ``portaal`` (skip loader),
    ``achterlader`` (rear loader), ``trekker``... (``kind`` says whose it is: truck or
    customer vehicle)."""
    allowed_container_types: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    """Container types (``Container.container_type``) this vehicle can carry; empty: none."""
    licence_category: Mapped[str | None] = mapped_column(String(5))
    """The driving licence category it needs (``C`` or ``CE``)."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Driver(Base):
    """A person who drives, linked to a user with the driver role (who logs in on the
    truck's page)."""

    __tablename__ = "drivers"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(30))
    licence_categories: Mapped[list[str]] = mapped_column(
        JSON, default=list, server_default=text("'[]'")
    )
    """``C``, ``CE``..."""
    licence_valid_until: Mapped[date | None] = mapped_column(Date)
    adr: Mapped[bool] = mapped_column(Boolean, default=False)
    """Holds an ADR certificate (dangerous goods)."""
    adr_valid_until: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
