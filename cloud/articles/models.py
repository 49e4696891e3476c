from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.db import Base, ExactDecimal

VAT_CATEGORIES = ("S", "Z", "E", "AE", "K", "G", "O")
"""UNCL5305 as EN 16931 uses it: S standard (21 %) or reduced (9 %) rate with ``vat_rate``,
Z zero rated, E exempt, AE reverse charge (verlegd), K intra-community, G export, O outside
scope."""

VAT_RATES: dict[str, tuple[Decimal, ...]] = {
    "S": (Decimal("21"), Decimal("9")),
    **{category: (Decimal("0"),) for category in VAT_CATEGORIES if category != "S"},
}
"""The Dutch rates each category allows (percent); the first is the default."""

UNITS: dict[str, str] = {
    "TNE": "tonne",
    "KGM": "kilogram",
    "C62": "piece (one)",
    "H87": "piece",
    "HUR": "hour",
    "MIN": "minute",
    "DAY": "day",
    "WEE": "week",
    "MON": "month",
    "ANN": "year",
    "MTQ": "cubic metre",
    "LTR": "litre",
    "KMT": "kilometre",
    "MTR": "metre",
    "MTK": "square metre",
    "LS": "lump sum",
    "SET": "set",
}
"""The UN/ECE Recommendation 20 unit codes an article may use (what e-invoices carry)."""


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(10))
    """UN/ECE Rec 20 unit code as e-invoices need it: ``TNE`` tonne, ``KGM`` kg, ``C62``
    piece, ``HUR`` hour, ``MTQ`` m3, ``KMT`` km."""
    vat_category: Mapped[str] = mapped_column(String(2), default="S")
    vat_rate: Mapped[Decimal] = mapped_column(ExactDecimal(5, 2), default=Decimal("21"))
    ledger_code: Mapped[str | None] = mapped_column(String(20))
    """The revenue account (grootboekrekening) in the accounting package."""
    default_price: Mapped[Decimal | None] = mapped_column(ExactDecimal(12, 4))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
