from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base


class Material(Base):
    """A material as the office and the driver know it, with its Eural code (EURAL, the
    Dutch edition of the European List of Waste): six digits, ``*`` after them when hazardous,
    e.g. ``170904`` (mixed construction waste) or ``170503*``."""

    __tablename__ = "materials"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(200))
    eural_code: Mapped[str | None] = mapped_column(String(7))
    hazardous: Mapped[bool] = mapped_column(Boolean, default=False)
    """Derived from the ``*`` of the Eural code: ADR checks in planning use it."""
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    """The article this material is billed with by default (per tonne, per container...)."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class WasteStream(Base):
    """An afvalstroomnummer: the LMA number (12 positions, the first five the processor's
    number) a processor issues for one material from one customer (ontdoener), valid for a
    period. Every waste transport carries one on its begeleidingsbrief."""

    __tablename__ = "waste_streams"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_waste_streams_customer_material", "tenant_id", "customer_id", "material_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(12))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    processor_site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id"))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    """Inclusive; ``None``: open-ended."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
