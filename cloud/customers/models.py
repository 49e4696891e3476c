from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal, UTCDateTime, utcnow


class InvoiceGrouping(StrEnum):
    """How approved orders become invoices for this customer."""

    PER_ORDER = "per_order"
    PER_SITE = "per_site"
    PER_PERIOD = "per_period"


class EInvoiceFormat(StrEnum):
    """What the customer receives: Peppol BIS Billing 3.0, SI-UBL 2.0, or a PDF only."""

    PEPPOL_BIS = "peppol_bis"
    SI_UBL = "si_ubl"
    PDF = "pdf"


class SiteKind(StrEnum):
    CUSTOMER_SITE = "customer_site"
    OWN_YARD = "own_yard"
    WEIGHBRIDGE = "weighbridge"
    PROCESSOR = "processor"


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # keyset paging by name, and the webshop intake's match on KvK or invoice e-mail
        Index("ix_customers_tenant_name", "tenant_id", "name", "id"),
        Index("ix_customers_tenant_kvk", "tenant_id", "kvk"),
        Index("ix_customers_invoice_email", "invoice_email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    number: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    vat_id: Mapped[str | None] = mapped_column(String(20))
    kvk: Mapped[str | None] = mapped_column(String(8))
    invoice_email: Mapped[str | None] = mapped_column(String(254))
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="NL")
    payment_terms_days: Mapped[int] = mapped_column(Integer, default=30)
    is_cash: Mapped[bool] = mapped_column(Boolean, default=False)
    """The walk-in cash customer ("kasklant") that unknown vehicles are booked on."""
    email: Mapped[str | None] = mapped_column(String(254), index=True)
    """Contact e-mail (webshop intake matches unknown customers on it, or on ``kvk``)."""
    phone: Mapped[str | None] = mapped_column(String(30))
    invoice_grouping: Mapped[str] = mapped_column(String(20), default="per_order")
    """``per_order`` | ``per_site`` | ``per_period`` (one invoice per customer per run)."""
    einvoice_format: Mapped[str] = mapped_column(String(20), default="pdf")
    """``peppol_bis`` | ``si_ubl`` | ``pdf`` (PDF only)."""
    peppol_id: Mapped[str | None] = mapped_column(String(60))
    """``scheme:identifier``, e.g. ``0106:12345678`` (KvK) or ``0190:...`` (OIN)."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    """Created by an intake channel (webshop) rather than by the office: check before billing."""
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Site(Base):
    """A place: a customer's site, our own yard with a weighbridge, or a processor."""

    __tablename__ = "sites"
    __table_args__ = (
        # a processor is found by its LMA number (afvalstroomnummers, CSV import)
        UniqueConstraint("tenant_id", "processor_number"),
        Index("ix_sites_tenant_customer", "tenant_id", "customer_id"),
        Index("ix_sites_tenant_name", "tenant_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="customer_site")
    """``customer_site`` | ``own_yard`` | ``weighbridge`` | ``processor``."""
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    street: Mapped[str | None] = mapped_column(String(200))
    postal_code: Mapped[str | None] = mapped_column(String(10))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2), default="NL")
    lat: Mapped[Decimal | None] = mapped_column(ExactDecimal(10, 7))
    lon: Mapped[Decimal | None] = mapped_column(ExactDecimal(11, 7))
    access_notes: Mapped[str | None] = mapped_column(Text)
    """Gate codes, opening hours, where to put the container: shown to the driver."""
    processor_number: Mapped[str | None] = mapped_column(String(5))
    """For ``kind == processor``: the LMA processor number (verwerkersnummer, 5 digits), the
    first five positions of every afvalstroomnummer it issues."""
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
