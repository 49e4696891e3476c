"""What each master data screen shows and edits, as data: the form fields, the list columns,
and thin adapters onto the domain services (``cloud.customers``, ``cloud.fleet``,
``cloud.containers``, ``cloud.materials``, ``cloud.articles``). Every rule stays in those
services; the pages in ``cloud.web.masterdata.pages`` parse, call and render."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy.orm import Session

from cloud.articles import service as articles
from cloud.articles.models import UNITS, VAT_CATEGORIES
from cloud.articles.schemas import ArticleCreate, ArticleUpdate
from cloud.audit.models import FieldChange
from cloud.containers import service as containers
from cloud.containers.models import LOCATION_KINDS
from cloud.containers.schemas import ContainerCreate, ContainerUpdate
from cloud.customers import service as customers
from cloud.customers.models import EInvoiceFormat, InvoiceGrouping, SiteKind
from cloud.customers.schemas import CustomerCreate, CustomerUpdate, SiteCreate, SiteUpdate
from cloud.errors import BadRequest
from cloud.fleet import service as fleet
from cloud.fleet.schemas import (
    VEHICLE_KINDS,
    DriverCreate,
    DriverUpdate,
    VehicleCreate,
    VehicleUpdate,
)
from cloud.materials import service as materials
from cloud.materials.schemas import (
    MaterialCreate,
    MaterialUpdate,
    WasteStreamCreate,
    WasteStreamUpdate,
)
from cloud.tenancy import service as tenancy

CHOICES = 500
"""Rows offered in a select (customers, sites, vehicles...); beyond that a form needs a search."""

FieldKind = Literal["text", "number", "decimal", "date", "select", "check", "textarea", "list"]
ColumnFormat = Literal[
    "text", "num", "money", "percent", "date", "datetime", "bool", "list", "label", "ref",
    "location", "address",
]  # fmt: skip


class BadPageCursor(BadRequest):
    """A ``next`` link that this list did not hand out."""


@dataclass(frozen=True)
class Field:
    """One input of a form; its label is ``masterdata.field.<name>``."""

    name: str
    kind: FieldKind = "text"
    required: bool = False
    maxlength: int | None = None
    default: str = ""
    values: tuple[str, ...] = ()
    """Fixed choices of a select, labelled ``<prefix><value>`` (the value itself if none)."""
    prefix: str = ""
    ref: str | None = None
    """A select over rows of the tenant: a key of ``REFERENCES``."""
    create_only: bool = False
    """Given when the row is made, never changed afterwards (the customer number)."""
    hint: str | None = None
    """A catalogue key shown under the input."""


@dataclass(frozen=True)
class Column:
    """One column of a list; its heading is ``masterdata.field.<name>``."""

    name: str
    fmt: ColumnFormat = "text"
    prefix: str = ""
    ref: str | None = None
    unit: str = ""


@dataclass(frozen=True)
class Filters:
    """What a list is filtered by (the query string of the list page)."""

    q: str | None = None
    active: bool | None = None
    kind: str | None = None
    customer_id: int | None = None
    location_kind: str | None = None


@dataclass(frozen=True)
class Kind:
    """One kind of master data: its URL segment, fields, columns and service calls."""

    key: str
    """URL segment and catalogue part: ``/masterdata/<key>``, ``masterdata.<key>.title``."""
    id_name: str
    """The path parameter: ``customer_id``."""
    fields: tuple[Field, ...]
    columns: tuple[Column, ...]
    create_schema: type[BaseModel]
    update_schema: type[BaseModel]
    get: Callable[[Session, int, int], Any]
    create: Callable[[Session, int, Any, int | None, str | None], Any]
    update: Callable[[Session, int, int, Any, int | None, str | None], Any]
    page: Callable[[Session, int, Filters, str | None, int], tuple[Sequence[Any], str | None]]
    history: Callable[[Session, int, int], list[FieldChange]]
    title: Callable[[Any], str]
    filters: tuple[Field, ...] = ()
    """Selects beside the search and the active filter."""
    reason_in_data: bool = False
    """The update schema carries the audit ``reason`` itself (customers, sites)."""
    extra_facts: tuple[Column, ...] = ()
    """Read-only values shown on the detail page besides the form's fields."""
    search_hint: str = "masterdata.search_hint"
    read: Callable[[Session, int, Any], Any] | None = None
    """The row as the detail page shows it (e.g. with a vehicle's devices); default: as is."""
    field_names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "field_names", tuple(f.name for f in self.fields))

    @property
    def texts(self) -> str:
        """The catalogue prefix of this kind's texts: ``masterdata.waste_streams``."""
        return "masterdata." + self.key.replace("-", "_")

    def refs(self) -> set[str]:
        """The reference lists its form, columns and filters need."""
        names = {f.ref for f in (*self.fields, *self.filters) if f.ref}
        names |= {c.ref for c in (*self.columns, *self.extra_facts) if c.ref}
        if any(c.fmt == "location" for c in self.columns):
            names |= {"sites", "vehicles"}
        return names


# -- reference lists (selects and names in lists) ---------------------------------------------


def _customers(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = customers.list_customers(session, tenant_id=tenant_id, sort="name", limit=CHOICES)
    return [(c.id, f"{c.name} ({c.number})") for c in rows]


def _site_label(site: Any) -> str:
    return " · ".join(p for p in (site.name, site.city) if p)


def _sites(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = customers.list_sites(session, tenant_id=tenant_id, sort="name", limit=CHOICES)
    return [(s.id, _site_label(s)) for s in rows]


def _processors(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = customers.list_sites(
        session, tenant_id=tenant_id, kind=SiteKind.PROCESSOR, sort="name", limit=CHOICES
    )
    return [(s.id, f"{_site_label(s)} ({s.processor_number or '–'})") for s in rows]


def _vehicles(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = fleet.list_vehicles(session, tenant_id=tenant_id, limit=CHOICES)
    return [(v.id, v.plate) for v in rows]


def _materials(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = materials.list_materials(session, tenant_id=tenant_id, limit=CHOICES)
    return [(m.id, f"{m.description} ({m.eural_code or m.code})") for m in rows]


def _articles(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = articles.list_articles(session, tenant_id=tenant_id, limit=CHOICES)
    return [(a.id, f"{a.code} · {a.name}") for a in rows]


def _driver_users(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    return [
        (u.id, u.name or u.email)
        for u in tenancy.list_users(session, tenant_id=tenant_id)
        if "driver" in u.role_names and u.is_active
    ]


REFERENCES: dict[str, Callable[[Session, int], list[tuple[int, str]]]] = {
    "customers": _customers,
    "sites": _sites,
    "processors": _processors,
    "vehicles": _vehicles,
    "materials": _materials,
    "articles": _articles,
    "driver_users": _driver_users,
}


def load_refs(
    session: Session, tenant_id: int, names: set[str]
) -> dict[str, list[tuple[int, str]]]:
    return {name: REFERENCES[name](session, tenant_id) for name in sorted(names)}


# -- paging -----------------------------------------------------------------------------------


def _int_cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 12:
        raise BadPageCursor("after: not a cursor of this list")
    return int(after)


def _str(cursor: int | str | None) -> str | None:
    return None if cursor is None else str(cursor)


# -- the kinds --------------------------------------------------------------------------------

ACTIVE = Field("is_active", "check", default="on")

CUSTOMERS = Kind(
    key="customers",
    id_name="customer_id",
    fields=(
        Field("number", maxlength=20, create_only=True, hint="masterdata.hint.number"),
        Field("name", required=True, maxlength=200),
        Field("street", maxlength=200),
        Field("postal_code", maxlength=10),
        Field("city", maxlength=100),
        Field("country", required=True, maxlength=2, default="NL"),
        Field("vat_id", maxlength=20, hint="masterdata.hint.vat_id"),
        Field("kvk", maxlength=8),
        Field("email", maxlength=254),
        Field("invoice_email", maxlength=254),
        Field("phone", maxlength=30),
        Field("payment_terms_days", "number", required=True, default="30"),
        Field(
            "invoice_grouping",
            "select",
            required=True,
            values=tuple(InvoiceGrouping),
            prefix="masterdata.grouping.",
            default=InvoiceGrouping.PER_ORDER,
        ),
        Field(
            "einvoice_format",
            "select",
            required=True,
            values=tuple(EInvoiceFormat),
            prefix="masterdata.einvoice.",
            default=EInvoiceFormat.PDF,
        ),
        Field("peppol_id", maxlength=60, hint="masterdata.hint.peppol_id"),
        ACTIVE,
        Field("needs_review", "check"),
        Field("notes", "textarea", maxlength=4000),
    ),
    columns=(
        Column("number"),
        Column("name"),
        Column("city"),
        Column("kvk"),
        Column("invoice_email"),
        Column("einvoice_format", "label", prefix="masterdata.einvoice."),
        Column("payment_terms_days", "num"),
        Column("needs_review", "bool"),
        Column("is_active", "bool"),
    ),
    create_schema=CustomerCreate,
    update_schema=CustomerUpdate,
    get=lambda s, t, i: customers.get_customer(s, tenant_id=t, customer_id=i),
    create=lambda s, t, d, u, r: customers.add_customer(
        s, tenant_id=t, data=d, by_user_id=u, reason=r
    ),
    update=lambda s, t, i, d, u, r: customers.update_customer(
        s, tenant_id=t, customer_id=i, data=d, by_user_id=u
    ),
    page=lambda s, t, f, after, limit: customers.list_customers(
        s, tenant_id=t, q=f.q, active=f.active, sort="name", after=after, limit=limit
    ),
    history=lambda s, t, i: customers.customer_history(s, tenant_id=t, customer_id=i),
    title=lambda c: f"{c.name} ({c.number})",
    reason_in_data=True,
    extra_facts=(Column("created_at", "datetime"),),
    search_hint="masterdata.customers.search_hint",
)

SITES = Kind(
    key="sites",
    id_name="site_id",
    fields=(
        Field("name", required=True, maxlength=200),
        Field(
            "kind",
            "select",
            required=True,
            values=tuple(SiteKind),
            prefix="masterdata.site_kind.",
            default=SiteKind.CUSTOMER_SITE,
        ),
        Field("customer_id", "select", ref="customers"),
        Field("street", maxlength=200),
        Field("postal_code", maxlength=10),
        Field("city", maxlength=100),
        Field("country", required=True, maxlength=2, default="NL"),
        Field("lat", "decimal", hint="masterdata.hint.lat"),
        Field("lon", "decimal"),
        Field("processor_number", maxlength=5, hint="masterdata.hint.processor_number"),
        ACTIVE,
        Field("access_notes", "textarea", maxlength=2000),
    ),
    columns=(
        Column("name"),
        Column("kind", "label", prefix="masterdata.site_kind."),
        Column("customer_id", "ref", ref="customers"),
        Column("street", "address"),
        Column("processor_number"),
        Column("is_active", "bool"),
    ),
    filters=(
        Field("kind", "select", values=tuple(SiteKind), prefix="masterdata.site_kind."),
        Field("customer_id", "select", ref="customers"),
    ),
    create_schema=SiteCreate,
    update_schema=SiteUpdate,
    get=lambda s, t, i: customers.get_site(s, tenant_id=t, site_id=i),
    create=lambda s, t, d, u, r: customers.add_site(s, tenant_id=t, data=d, by_user_id=u, reason=r),
    update=lambda s, t, i, d, u, r: customers.update_site(
        s, tenant_id=t, site_id=i, data=d, by_user_id=u
    ),
    page=lambda s, t, f, after, limit: customers.list_sites(
        s,
        tenant_id=t,
        customer_id=f.customer_id,
        kind=f.kind,
        q=f.q,
        active=f.active,
        sort="name",
        after=after,
        limit=limit,
    ),
    history=lambda s, t, i: customers.site_history(s, tenant_id=t, site_id=i),
    title=lambda x: x.name,
    reason_in_data=True,
)


def _vehicles_page(
    s: Session, t: int, f: Filters, after: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    rows, cursor = fleet.list_vehicles(
        s, tenant_id=t, q=f.q, active=f.active, after=_int_cursor(after), limit=limit
    )
    return rows, _str(cursor)


VEHICLES = Kind(
    key="vehicles",
    id_name="vehicle_id",
    fields=(
        Field("plate", required=True, maxlength=20),
        Field(
            "kind",
            "select",
            required=True,
            values=VEHICLE_KINDS,
            prefix="masterdata.vehicle_kind.",
            default="truck",
        ),
        Field("vehicle_type", maxlength=40, hint="masterdata.hint.vehicle_type"),
        Field("allowed_container_types", "list", hint="masterdata.hint.list"),
        Field("max_load_kg", "decimal"),
        Field("stored_tare_kg", "decimal"),
        Field("stored_tare_valid_until", "date"),
        Field("licence_category", "select", values=("C1", "C1E", "C", "CE")),
        Field("rfid_card", maxlength=32),
        Field("customer_id", "select", ref="customers", hint="masterdata.hint.vehicle_customer"),
        Field("driver_user_id", "select", ref="driver_users"),
        ACTIVE,
    ),
    columns=(
        Column("plate"),
        Column("kind", "label", prefix="masterdata.vehicle_kind."),
        Column("vehicle_type"),
        Column("allowed_container_types", "list"),
        Column("max_load_kg", "num", unit="kg"),
        Column("stored_tare_kg", "num", unit="kg"),
        Column("stored_tare_valid_until", "date"),
        Column("driver_user_id", "ref", ref="driver_users"),
        Column("is_active", "bool"),
    ),
    create_schema=VehicleCreate,
    update_schema=VehicleUpdate,
    get=lambda s, t, i: fleet.get_vehicle(s, tenant_id=t, vehicle_id=i),
    create=lambda s, t, d, u, r: fleet.create_vehicle(s, tenant_id=t, data=d, by_user_id=u),
    update=lambda s, t, i, d, u, r: fleet.update_vehicle(
        s, tenant_id=t, vehicle_id=i, data=d, by_user_id=u, reason=r
    ),
    page=_vehicles_page,
    history=lambda s, t, i: fleet.vehicle_history(s, tenant_id=t, vehicle_id=i),
    title=lambda v: v.plate,
    extra_facts=(Column("device_ids", "list"),),
    read=lambda s, t, v: fleet.vehicles_read(s, tenant_id=t, vehicles=[v])[0],
    search_hint="masterdata.vehicles.search_hint",
)


def _drivers_page(
    s: Session, t: int, f: Filters, after: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    rows, cursor = fleet.list_drivers(
        s, tenant_id=t, q=f.q, active=f.active, after=_int_cursor(after), limit=limit
    )
    return rows, _str(cursor)


DRIVERS = Kind(
    key="drivers",
    id_name="driver_id",
    fields=(
        Field("user_id", "select", required=True, ref="driver_users"),
        Field("name", required=True, maxlength=200),
        Field("phone", maxlength=30),
        Field("licence_categories", "list", hint="masterdata.hint.licence_categories"),
        Field("licence_valid_until", "date"),
        Field("adr", "check"),
        Field("adr_valid_until", "date"),
        ACTIVE,
    ),
    columns=(
        Column("name"),
        Column("user_id", "ref", ref="driver_users"),
        Column("phone"),
        Column("licence_categories", "list"),
        Column("licence_valid_until", "date"),
        Column("adr", "bool"),
        Column("adr_valid_until", "date"),
        Column("is_active", "bool"),
    ),
    create_schema=DriverCreate,
    update_schema=DriverUpdate,
    get=lambda s, t, i: fleet.get_driver(s, tenant_id=t, driver_id=i),
    create=lambda s, t, d, u, r: fleet.create_driver(s, tenant_id=t, data=d, by_user_id=u),
    update=lambda s, t, i, d, u, r: fleet.update_driver(
        s, tenant_id=t, driver_id=i, data=d, by_user_id=u, reason=r
    ),
    page=_drivers_page,
    history=lambda s, t, i: fleet.driver_history(s, tenant_id=t, driver_id=i),
    title=lambda d: d.name,
)


def _containers_page(
    s: Session, t: int, f: Filters, after: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    rows, cursor = containers.list_containers(
        s,
        tenant_id=t,
        q=f.q,
        active=f.active,
        location_kind=f.location_kind,
        after=_int_cursor(after),
        limit=limit,
    )
    return rows, _str(cursor)


CONTAINERS = Kind(
    key="containers",
    id_name="container_id",
    fields=(
        Field("number", required=True, maxlength=20),
        Field("container_type", required=True, maxlength=60, hint="masterdata.hint.container_type"),
        Field("volume_m3", "decimal"),
        Field("rfid_tag", maxlength=32),
        Field(
            "location_kind",
            "select",
            required=True,
            values=LOCATION_KINDS,
            prefix="masterdata.location.",
            default="yard",
        ),
        Field("site_id", "select", ref="sites", hint="masterdata.hint.container_site"),
        Field("vehicle_id", "select", ref="vehicles"),
        ACTIVE,
    ),
    columns=(
        Column("number"),
        Column("container_type"),
        Column("volume_m3", "num", unit="m³"),
        Column("rfid_tag"),
        Column("where", "location"),
        Column("located_since", "datetime"),
        Column("is_active", "bool"),
    ),
    filters=(
        Field("location_kind", "select", values=LOCATION_KINDS, prefix="masterdata.location."),
    ),
    create_schema=ContainerCreate,
    update_schema=ContainerUpdate,
    get=lambda s, t, i: containers.get_container(s, tenant_id=t, container_id=i),
    create=lambda s, t, d, u, r: containers.create_container(s, tenant_id=t, data=d, by_user_id=u),
    update=lambda s, t, i, d, u, r: containers.update_container(
        s, tenant_id=t, container_id=i, data=d, by_user_id=u, reason=r
    ),
    page=_containers_page,
    history=lambda s, t, i: containers.container_history(s, tenant_id=t, container_id=i),
    title=lambda c: c.number,
    extra_facts=(Column("where", "location"), Column("located_since", "datetime")),
    search_hint="masterdata.containers.search_hint",
)


def _materials_page(
    s: Session, t: int, f: Filters, after: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    rows, cursor = materials.list_materials(
        s, tenant_id=t, q=f.q, active=f.active, after=_int_cursor(after), limit=limit
    )
    return rows, _str(cursor)


MATERIALS = Kind(
    key="materials",
    id_name="material_id",
    fields=(
        Field("code", required=True, maxlength=20),
        Field("description", required=True, maxlength=200),
        Field("eural_code", maxlength=12, hint="masterdata.hint.eural_code"),
        Field("article_id", "select", ref="articles"),
        ACTIVE,
    ),
    columns=(
        Column("code"),
        Column("description"),
        Column("eural_code"),
        Column("hazardous", "bool"),
        Column("article_id", "ref", ref="articles"),
        Column("is_active", "bool"),
    ),
    create_schema=MaterialCreate,
    update_schema=MaterialUpdate,
    get=lambda s, t, i: materials.get_material(s, tenant_id=t, material_id=i),
    create=lambda s, t, d, u, r: materials.create_material(s, tenant_id=t, data=d, by_user_id=u),
    update=lambda s, t, i, d, u, r: materials.update_material(
        s, tenant_id=t, material_id=i, data=d, by_user_id=u, reason=r
    ),
    page=_materials_page,
    history=lambda s, t, i: materials.material_history(s, tenant_id=t, material_id=i),
    title=lambda m: f"{m.code} · {m.description}",
    extra_facts=(Column("hazardous", "bool"),),
)


def _streams_page(
    s: Session, t: int, f: Filters, after: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    rows, cursor = materials.list_waste_streams(
        s,
        tenant_id=t,
        q=f.q,
        active=f.active,
        customer_id=f.customer_id,
        after=_int_cursor(after),
        limit=limit,
    )
    return rows, _str(cursor)


WASTE_STREAMS = Kind(
    key="waste-streams",
    id_name="waste_stream_id",
    fields=(
        Field("number", required=True, maxlength=20, hint="masterdata.hint.waste_stream"),
        Field("customer_id", "select", required=True, ref="customers"),
        Field("processor_site_id", "select", required=True, ref="processors"),
        Field("material_id", "select", required=True, ref="materials"),
        Field("valid_from", "date", required=True),
        Field("valid_until", "date", hint="masterdata.hint.valid_until"),
        ACTIVE,
    ),
    columns=(
        Column("number"),
        Column("customer_id", "ref", ref="customers"),
        Column("processor_site_id", "ref", ref="processors"),
        Column("material_id", "ref", ref="materials"),
        Column("valid_from", "date"),
        Column("valid_until", "date"),
        Column("is_active", "bool"),
    ),
    filters=(Field("customer_id", "select", ref="customers"),),
    create_schema=WasteStreamCreate,
    update_schema=WasteStreamUpdate,
    get=lambda s, t, i: materials.get_waste_stream(s, tenant_id=t, waste_stream_id=i),
    create=lambda s, t, d, u, r: materials.create_waste_stream(
        s, tenant_id=t, data=d, by_user_id=u
    ),
    update=lambda s, t, i, d, u, r: materials.update_waste_stream(
        s, tenant_id=t, waste_stream_id=i, data=d, by_user_id=u, reason=r
    ),
    page=_streams_page,
    history=lambda s, t, i: materials.waste_stream_history(s, tenant_id=t, waste_stream_id=i),
    title=lambda w: w.number,
)


def _articles_page(
    s: Session, t: int, f: Filters, after: str | None, limit: int
) -> tuple[Sequence[Any], str | None]:
    rows, cursor = articles.list_articles(
        s, tenant_id=t, q=f.q, active=f.active, after=_int_cursor(after), limit=limit
    )
    return rows, _str(cursor)


ARTICLES = Kind(
    key="articles",
    id_name="article_id",
    fields=(
        Field("code", required=True, maxlength=20),
        Field("name", required=True, maxlength=200),
        Field("unit", "select", required=True, values=tuple(UNITS), prefix="masterdata.unit."),
        Field(
            "vat_category",
            "select",
            required=True,
            values=VAT_CATEGORIES,
            prefix="masterdata.vat.",
            default="S",
        ),
        Field("vat_rate", "decimal", hint="masterdata.hint.vat_rate"),
        Field("ledger_code", maxlength=20),
        Field("default_price", "decimal"),
        ACTIVE,
    ),
    columns=(
        Column("code"),
        Column("name"),
        Column("unit", "label", prefix="masterdata.unit."),
        Column("vat_category", "label", prefix="masterdata.vat."),
        Column("vat_rate", "percent"),
        Column("ledger_code"),
        Column("default_price", "money"),
        Column("is_active", "bool"),
    ),
    create_schema=ArticleCreate,
    update_schema=ArticleUpdate,
    get=lambda s, t, i: articles.get_article(s, tenant_id=t, article_id=i),
    create=lambda s, t, d, u, r: articles.create_article(s, tenant_id=t, data=d, by_user_id=u),
    update=lambda s, t, i, d, u, r: articles.update_article(
        s, tenant_id=t, article_id=i, data=d, by_user_id=u, reason=r
    ),
    page=_articles_page,
    history=lambda s, t, i: articles.article_history(s, tenant_id=t, article_id=i),
    title=lambda a: f"{a.code} · {a.name}",
)

KINDS: tuple[Kind, ...] = (
    CUSTOMERS,
    SITES,
    VEHICLES,
    DRIVERS,
    CONTAINERS,
    MATERIALS,
    WASTE_STREAMS,
    ARTICLES,
)
BY_KEY = {k.key: k for k in KINDS}
