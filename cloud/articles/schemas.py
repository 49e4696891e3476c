"""Articles as the API and the CSV import read and write them: the one definition."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from cloud.types import NoNul


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("may not be null (leave the field out to keep its value)")
    return value


Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), NoNul]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
LedgerCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), NoNul
]
Unit = Annotated[
    Literal[
        "TNE", "KGM", "C62", "H87", "HUR", "MIN", "DAY", "WEE", "MON", "ANN",
        "MTQ", "LTR", "KMT", "MTR", "MTK", "LS", "SET",
    ],
    BeforeValidator(_upper),
]  # fmt: skip
"""``cloud.articles.models.UNITS`` (UN/ECE Rec 20)."""
VatCategory = Annotated[Literal["S", "Z", "E", "AE", "K", "G", "O"], BeforeValidator(_upper)]
"""``cloud.articles.models.VAT_CATEGORIES`` (UNCL5305)."""
VatRate = Annotated[Decimal, Field(ge=0, le=100, max_digits=5, decimal_places=2)]
Price = Annotated[Decimal, Field(max_digits=12, decimal_places=4)]


class ArticleCreate(BaseModel):
    """An article to bill. ``vat_rate`` may be left out: 21 for category S, 0 for the others;
    given, it must fit the category (S: 21 or 9; the others: 0)."""

    model_config = ConfigDict(extra="forbid")

    code: Code
    name: Name
    unit: Unit
    vat_category: VatCategory = "S"
    vat_rate: VatRate | None = None
    ledger_code: LedgerCode | None = None
    default_price: Price | None = None
    is_active: bool = True


class ArticleUpdate(BaseModel):
    """Only the fields sent change. A new ``vat_category`` without ``vat_rate`` takes the
    category's default rate unless the current rate fits it."""

    model_config = ConfigDict(extra="forbid")

    code: Code | None = None
    name: Name | None = None
    unit: Unit | None = None
    vat_category: VatCategory | None = None
    vat_rate: VatRate | None = None
    ledger_code: LedgerCode | None = None
    default_price: Price | None = None
    is_active: bool | None = None

    _required = field_validator(
        "code", "name", "unit", "vat_category", "vat_rate", "is_active", mode="before"
    )(_not_null)


class ArticleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    unit: str
    vat_category: str
    vat_rate: Decimal
    ledger_code: str | None
    default_price: Decimal | None
    is_active: bool


class ArticlePage(BaseModel):
    items: list[ArticleRead]
    next_after: int | None
    """Pass as ``after`` for the next page; ``None``: this was the last page."""
