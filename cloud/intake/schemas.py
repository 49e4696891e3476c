"""Pydantic I/O of the intake channels: the webshop's order (its JSON Schema is the published
contract, served at ``GET /api/v1/intake/webshop/schema``) and the customer portal."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from cloud.types import DbId, NoNul

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NoNul]
Street = Name
PostalCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10), NoNul
]
City = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NoNul]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30), NoNul]
MaterialCode = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20), NoNul
]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
    NoNul,
]
Kvk = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{8}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
ShopOrderId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$"),
    Field(description="the shop's own order id; the order's source_ref is webshop:<this>"),
]
RequestId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=60, pattern=r"^[\x21-\x7e]+$"),
    Field(description="a key the client chooses: the same request_id never makes two orders"),
]
# Order fields that go to the truck (see cloud.orders.schemas): at most 64 characters.
Material = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64), NoNul
]
ContainerType = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60), NoNul
]
Reference = Annotated[str, StringConstraints(max_length=64), NoNul]
Notes = Annotated[str, StringConstraints(max_length=2000), NoNul]
ExpectedKg = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=3)]

RequestedOrderType = Literal[
    "container_place", "container_exchange", "container_collect", "bulk_transport", "other"
]
"""What a customer (webshop or portal) may ask for: everything but a walk-in at the yard."""


# -- webshop -------------------------------------------------------------------------------


class WebshopAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    street: Street = Field(description="street and house number")
    postal_code: PostalCode = Field(examples=["1234 AB"])
    city: City
    country: Country = "NL"


class WebshopCustomer(BaseModel):
    """Who ordered. Matched to an existing customer on e-mail or KvK number; otherwise a new
    customer is made, marked for review by the office."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    email: Email
    kvk: Kvk | None = None
    phone: Phone | None = None
    address: WebshopAddress | None = Field(default=None, description="billing address")


class WebshopSite(WebshopAddress):
    """Where the container goes: matched to one of the customer's sites on postal code and
    street, otherwise added as a new site of the customer."""

    name: Name | None = None
    access_notes: Notes | None = Field(default=None, description="gate code, where to put it")


class WebshopOrder(BaseModel):
    """An order placed in the webshop, as the shop POSTs it (signed, Standard Webhooks) to
    ``/api/v1/intake/webshop/{tenant_slug}``."""

    model_config = ConfigDict(extra="forbid", title="WebshopOrder")

    shop_order_id: ShopOrderId
    customer: WebshopCustomer
    site: WebshopSite
    order_type: RequestedOrderType
    container_type: ContainerType | None = Field(default=None, examples=["afzetcontainer 10m3"])
    material_code: MaterialCode | None = Field(
        default=None,
        description="a material code of the tenant; an unknown code is accepted and the "
        "order flagged for review",
    )
    requested_date: date | None = None
    reference: Reference | None = Field(default=None, description="the customer's reference")
    notes: Notes | None = None


class WebshopAccepted(BaseModel):
    """The answer to a delivery (a repeated ``webhook-id`` gets the same answer again)."""

    order_id: int
    number: str
    status: str
    customer_id: int
    created: bool
    """False when this shop order was already taken in (another delivery of it)."""


# -- customer portal -----------------------------------------------------------------------


class PortalOrderRequest(BaseModel):
    """A customer user asks for an order at one of its own sites. The customer is the
    user's; status, number and source are the server's."""

    model_config = ConfigDict(extra="forbid")

    site_id: DbId
    order_type: RequestedOrderType
    requested_date: date | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    container_type: ContainerType | None = None
    material_id: DbId | None = Field(default=None, description="one of the tenant's materials")
    material: Material | None = Field(default=None, description="free text, without material_id")
    expected_quantity_kg: ExpectedKg | None = None
    reference: Reference | None = None
    notes: Notes | None = None
    request_id: RequestId | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> PortalOrderRequest:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class PortalStatusChange(BaseModel):
    status: str
    at: datetime


class PortalOrder(BaseModel):
    """An order as its customer sees it: no internal review notes, vehicles or users."""

    id: int
    number: str
    order_type: str
    source: str
    status: str
    site_id: int | None
    requested_date: date | None
    window_start: datetime | None
    window_end: datetime | None
    container_type: str | None
    material: str | None
    expected_quantity_kg: Decimal | None
    actual_quantity_kg: Decimal | None
    reference: str | None
    notes: str | None
    created_at: datetime
    executed_at: datetime | None
    history: list[PortalStatusChange] = []


class PortalOrderPage(BaseModel):
    items: list[PortalOrder]
    next_after: int | None
    """Pass as ``after`` for the next page; ``null`` on the last page."""


class PortalSite(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    street: str | None
    postal_code: str | None
    city: str | None
    country: str
    access_notes: str | None


class PortalDocument(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class PortalWeighing(BaseModel):
    """A weighing ticket as data, for an order without a ticket document."""

    model_config = ConfigDict(from_attributes=True)

    ticket_number: str
    instrument_id: str
    alibi_id: str | None
    plate: str | None
    gross: Decimal
    tare: Decimal
    net: Decimal
    unit: str
    tare_kind: str
    first_at: datetime
    second_at: datetime | None


class PortalDocuments(BaseModel):
    documents: list[PortalDocument]
    """Every stored file of the order (weighing ticket PDFs have kind ``ticket``)."""
    weighings: list[PortalWeighing]
    """The order's weighing tickets as data, when no ticket document exists."""
