"""Customers and sites as the API, the screens and the CSV import read and write them.

The rules that involve several fields (a Dutch postal code, the Peppol id that a Peppol
customer needs, the customer a customer site needs) are plain functions here: the ``Create``
schemas run them on the payload, the services run them again on the merged row of an update."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cloud.customers.models import EInvoiceFormat, InvoiceGrouping, SiteKind
from cloud.types import DbId, NoNul

# -- single fields ------------------------------------------------------------------------------

EU_VAT_PREFIXES = frozenset((
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
))  # fmt: skip
"""VAT id prefixes of the EU member states (Greece is ``EL``; ``XI`` Northern Ireland)."""

_NL_VAT = re.compile(r"^NL[0-9]{9}B[0-9]{2}$")
_EU_VAT = re.compile(r"^([A-Z]{2})[A-Z0-9]{2,12}$")
_KVK = re.compile(r"^[0-9]{8}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{3,30}$")
_PEPPOL_ID = re.compile(r"^[0-9]{4}:[A-Za-z0-9][A-Za-z0-9._-]*$")
_NL_POSTAL = re.compile(r"^([1-9][0-9]{3})([A-Z]{2})$")
_PROCESSOR_NUMBER = re.compile(r"^[0-9]{5}$")


def _strip(value: Any) -> Any:
    """Surrounding blanks never mean anything; an empty or blank value means 'not given'."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _vat_id(value: str) -> str:
    vat = re.sub(r"[\s.-]", "", value).upper()
    if vat.startswith("NL"):
        if not _NL_VAT.match(vat):
            raise ValueError("a Dutch VAT id is NL, 9 digits, B and 2 digits (NL123456789B01)")
        return vat
    match = _EU_VAT.match(vat)
    if match is None or match.group(1) not in EU_VAT_PREFIXES:
        raise ValueError("a VAT id starts with an EU country prefix followed by letters/digits")
    return vat


def _kvk(value: str) -> str:
    kvk = value.replace(" ", "")
    if not _KVK.match(kvk):
        raise ValueError("a KvK number has 8 digits")
    return kvk


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value.lower()


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise ValueError("a phone number has digits, spaces, + ( ) . / - only")
    return value


def _peppol_id(value: str) -> str:
    if not _PEPPOL_ID.match(value):
        raise ValueError("a Peppol id is scheme:identifier with a 4-digit scheme (0106:12345678)")
    return value


def _country(value: str) -> str:
    country = value.upper()
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise ValueError("a country is a 2-letter ISO 3166 code (NL, BE, DE...)")
    return country


def _processor_number(value: str) -> str:
    if not _PROCESSOR_NUMBER.match(value):
        raise ValueError("a processor number (verwerkersnummer) has 5 digits")
    return value


Number = Annotated[
    str,
    BeforeValidator(_strip),
    StringConstraints(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$"),
    NoNul,
]
"""A customer number as the office and the accounting package know it (debiteurnummer)."""
Name = Annotated[str, BeforeValidator(_strip), StringConstraints(min_length=1, max_length=200),
                 NoNul]  # fmt: skip
Street = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=200), NoNul]
PostalCode = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=10), NoNul]
City = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=100), NoNul]
Country = Annotated[
    str, BeforeValidator(_strip), StringConstraints(max_length=2), AfterValidator(_country)
]
VatId = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=20), NoNul,
                  AfterValidator(_vat_id)]  # fmt: skip
Kvk = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=8), NoNul,
                AfterValidator(_kvk)]  # fmt: skip
Email = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=254), NoNul,
                  AfterValidator(_email)]  # fmt: skip
"""Stored in lower case, so that intake matches an address however it was typed."""
Phone = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=30), NoNul,
                  AfterValidator(_phone)]  # fmt: skip
PeppolId = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=60), NoNul,
                     AfterValidator(_peppol_id)]  # fmt: skip
ProcessorNumber = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=5), NoNul,
                            AfterValidator(_processor_number)]  # fmt: skip
Notes = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=4000), NoNul]
AccessNotes = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=2000), NoNul]
Reason = Annotated[str, BeforeValidator(_strip), StringConstraints(max_length=500), NoNul]
"""Why a change was made (``FieldChange.reason``)."""
PaymentTerms = Annotated[int, Field(ge=0, le=365, description="days")]
Latitude = Annotated[Decimal, Field(ge=-90, le=90, max_digits=10, decimal_places=7)]
Longitude = Annotated[Decimal, Field(ge=-180, le=180, max_digits=11, decimal_places=7)]


# -- rules over several fields ------------------------------------------------------------------


def normalize_postal_code(postal_code: str | None, country: str) -> str | None:
    """Dutch postal codes as ``1234 AB`` (however they were typed); others as given."""
    if postal_code is None or country != "NL":
        return postal_code
    match = _NL_POSTAL.match(postal_code.replace(" ", "").upper())
    if match is None:
        raise ValueError("a Dutch postal code is 4 digits and 2 letters (1234 AB)")
    return f"{match.group(1)} {match.group(2)}"


def _postal_code_of_country(value: str | None, info: ValidationInfo) -> str | None:
    """``normalize_postal_code`` as a field check (``country`` comes first); with a wrong
    country, that one is reported and the postal code left alone."""
    country = info.data.get("country")
    if country is None:
        return value
    return normalize_postal_code(value, country)


def check_einvoice(einvoice_format: str, peppol_id: str | None) -> None:
    if einvoice_format == EInvoiceFormat.PEPPOL_BIS and not peppol_id:
        raise ValueError("peppol_id: required when einvoice_format is peppol_bis")


def check_site(
    *,
    kind: str,
    customer_id: int | None,
    processor_number: str | None,
    lat: Decimal | None,
    lon: Decimal | None,
) -> None:
    if kind == SiteKind.CUSTOMER_SITE and customer_id is None:
        raise ValueError("customer_id: a customer site needs its customer")
    if kind in (SiteKind.OWN_YARD, SiteKind.WEIGHBRIDGE) and customer_id is not None:
        raise ValueError("customer_id: our own yard or weighbridge belongs to no customer")
    if processor_number is not None and kind != SiteKind.PROCESSOR:
        raise ValueError("processor_number: only a processor has a processor number")
    if (lat is None) != (lon is None):
        raise ValueError("lat: give both coordinates (lat and lon) or neither")


class _Patch(BaseModel):
    """A partial update: only the fields sent change; ``null`` clears a field that may be
    empty, and is refused for one that may not."""

    model_config = ConfigDict(extra="forbid")
    required_fields: ClassVar[tuple[str, ...]] = ()

    reason: Reason | None = None

    @model_validator(mode="after")
    def _no_null_for_required(self) -> Any:
        for name in self.required_fields:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name}: may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields sent, without ``reason``."""
        return {k: getattr(self, k) for k in self.model_fields_set if k != "reason"}


# -- customers ----------------------------------------------------------------------------------


class CustomerCreate(BaseModel):
    """A new customer. ``number`` is the customer's number at the tenant (as in the accounting
    package); without one, the next free number of the tenant's ``customer`` series is given."""

    model_config = ConfigDict(extra="forbid")

    number: Number | None = None
    name: Name
    country: Country = "NL"
    street: Street | None = None
    postal_code: PostalCode | None = None
    city: City | None = None
    vat_id: VatId | None = None
    kvk: Kvk | None = None
    email: Email | None = None
    """Contact e-mail."""
    invoice_email: Email | None = None
    phone: Phone | None = None
    payment_terms_days: PaymentTerms = 30
    invoice_grouping: InvoiceGrouping = InvoiceGrouping.PER_ORDER
    einvoice_format: EInvoiceFormat = EInvoiceFormat.PDF
    peppol_id: PeppolId | None = None
    is_active: bool = True
    needs_review: bool = False
    notes: Notes | None = None

    _postal_code = field_validator("postal_code")(_postal_code_of_country)

    @model_validator(mode="after")
    def _rules(self) -> CustomerCreate:
        check_einvoice(self.einvoice_format, self.peppol_id)
        return self


class CustomerUpdate(_Patch):
    """The fields to change. The number stays: sites, orders and the accounting package
    know the customer by it."""

    required_fields = (
        "name",
        "country",
        "payment_terms_days",
        "invoice_grouping",
        "einvoice_format",
        "is_active",
        "needs_review",
    )

    name: Name | None = None
    street: Street | None = None
    postal_code: PostalCode | None = None
    city: City | None = None
    country: Country | None = None
    vat_id: VatId | None = None
    kvk: Kvk | None = None
    email: Email | None = None
    invoice_email: Email | None = None
    phone: Phone | None = None
    payment_terms_days: PaymentTerms | None = None
    invoice_grouping: InvoiceGrouping | None = None
    einvoice_format: EInvoiceFormat | None = None
    peppol_id: PeppolId | None = None
    is_active: bool | None = None
    needs_review: bool | None = None
    notes: Notes | None = None


class CustomerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    name: str
    street: str | None
    postal_code: str | None
    city: str | None
    country: str
    vat_id: str | None
    kvk: str | None
    email: str | None
    invoice_email: str | None
    phone: str | None
    payment_terms_days: int
    invoice_grouping: str
    einvoice_format: str
    peppol_id: str | None
    is_cash: bool
    is_active: bool
    needs_review: bool
    notes: str | None
    created_at: datetime


class CustomerPage(BaseModel):
    items: list[CustomerRead]
    next_after: str | None
    """Pass as ``after`` for the next page; ``null`` on the last page."""


# -- sites --------------------------------------------------------------------------------------


class SiteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: SiteKind = SiteKind.CUSTOMER_SITE
    customer_id: DbId | None = None
    """Required for a customer site; the customer must be the tenant's (422 otherwise)."""
    country: Country = "NL"
    street: Street | None = None
    postal_code: PostalCode | None = None
    city: City | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    access_notes: AccessNotes | None = None
    processor_number: ProcessorNumber | None = None
    """For a processor: its LMA number (verwerkersnummer)."""
    is_active: bool = True

    _postal_code = field_validator("postal_code")(_postal_code_of_country)

    @model_validator(mode="after")
    def _rules(self) -> SiteCreate:
        check_site(
            kind=self.kind,
            customer_id=self.customer_id,
            processor_number=self.processor_number,
            lat=self.lat,
            lon=self.lon,
        )
        return self


class SiteUpdate(_Patch):
    required_fields = ("name", "kind", "country", "is_active")

    name: Name | None = None
    kind: SiteKind | None = None
    customer_id: DbId | None = None
    street: Street | None = None
    postal_code: PostalCode | None = None
    city: City | None = None
    country: Country | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None
    access_notes: AccessNotes | None = None
    processor_number: ProcessorNumber | None = None
    is_active: bool | None = None


class SiteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    kind: str
    customer_id: int | None
    street: str | None
    postal_code: str | None
    city: str | None
    country: str
    lat: Decimal | None
    lon: Decimal | None
    access_notes: str | None
    processor_number: str | None
    is_active: bool


class SitePage(BaseModel):
    items: list[SiteRead]
    next_after: str | None


# -- lists and history --------------------------------------------------------------------------

SortKey = Literal["id", "name"]
