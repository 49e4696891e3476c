"""Customers and sites: create, change (audited), list, deactivate. Never commits.

Rows are never deleted: orders, invoices and afvalstroomnummers refer to them, so a customer
or site that is no longer used is deactivated (``is_active = false``), which keeps its history.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Collection, Sequence
from enum import Enum
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.audit.models import FieldChange
from cloud.crud import Entity
from cloud.customers import repository
from cloud.customers.errors import (
    BadCursor,
    CustomerNotFound,
    CustomerNumberTaken,
    InvalidCustomer,
    InvalidSite,
    ProcessorNumberTaken,
    SiteNotFound,
)
from cloud.customers.models import Customer, Site
from cloud.customers.repository import Keyset
from cloud.customers.schemas import (
    CustomerCreate,
    CustomerUpdate,
    SiteCreate,
    SiteUpdate,
    check_einvoice,
    check_site,
    normalize_postal_code,
)
from cloud.db import utcnow
from cloud.numbering.service import next_number
from cloud.references import resolve

__all__ = [
    "CASH_CUSTOMER_NUMBER",
    "CustomerNotFound",
    "SiteNotFound",
    "add_customer",
    "add_customers",
    "add_site",
    "add_sites",
    "cash_customer",
    "create_customer",
    "customer_history",
    "deactivate_customer",
    "deactivate_site",
    "find_customer_for_intake",
    "get_customer",
    "get_site",
    "list_customers",
    "list_sites",
    "site_history",
    "update_customer",
    "update_site",
]

CASH_CUSTOMER_NUMBER = "KAS"
CUSTOMER_ENTITY = "customer"
SITE_ENTITY = "site"
NUMBER_PURPOSE = "customer"
"""The number series that numbers customers created without a number."""

CUSTOMERS = Entity(Customer, entity=CUSTOMER_ENTITY, what="customer", not_found=CustomerNotFound)
SITES = Entity(Site, entity=SITE_ENTITY, what="site", not_found=SiteNotFound)

CUSTOMER_FIELDS = ("number", *(f for f in CustomerCreate.model_fields if f != "number"))
SITE_FIELDS = tuple(SiteCreate.model_fields)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    """Enum members as their values: the columns hold plain strings."""
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}


def _postal_code(postal_code: str | None, country: str) -> str | None:
    try:
        return normalize_postal_code(postal_code, country)
    except ValueError as exc:
        raise ValueError(f"postal_code: {exc}") from None


# -- paging -------------------------------------------------------------------------------------


def _cursor(sort: str, row: Customer | Site) -> str:
    key: list[Any] = [row.id] if sort == "id" else [row.id, row.name]
    raw = json.dumps([sort, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _keyset(sort: str, after: str | None) -> Keyset | None:
    """The position a cursor of ``_cursor`` names, for the same sort order."""
    if after is None:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("after: not a cursor of this list") from None
    ok = (
        isinstance(decoded, list)
        and len(decoded) == (2 if sort == "id" else 3)
        and decoded[0] == sort
        and isinstance(decoded[1], int)
        and not isinstance(decoded[1], bool)
        and (sort == "id" or isinstance(decoded[2], str))
    )
    if not ok:
        raise BadCursor("after: not a cursor of this list (or of another sort order)")
    return Keyset(id=decoded[1], name=decoded[2] if sort == "name" else None)


def _page(rows: Sequence[Customer | Site], *, sort: str, limit: int) -> str | None:
    return _cursor(sort, rows[limit - 1]) if len(rows) > limit else None


# -- customers ----------------------------------------------------------------------------------


def get_customer(session: Session, *, tenant_id: int, customer_id: int) -> Customer:
    return CUSTOMERS.get(session, tenant_id=tenant_id, id_=customer_id)


def _free_number(
    session: Session, *, tenant_id: int, also_taken: Collection[str] = frozenset()
) -> str:
    """The next number of the tenant's customer series that no customer has yet (numbers
    typed by hand may have taken some), nor one of ``also_taken`` (a batch being added)."""
    while True:
        number = next_number(session, tenant_id=tenant_id, purpose=NUMBER_PURPOSE)
        if number in also_taken:
            continue
        if repository.customer_by_number(session, tenant_id=tenant_id, number=number) is None:
            return number


def add_customer(
    session: Session,
    *,
    tenant_id: int,
    data: CustomerCreate,
    by_user_id: int | None = None,
    reason: str | None = None,
) -> Customer:
    """A new customer, audited as created. A taken number is a 409."""
    values = _plain(data.model_dump())
    if values["number"] is None:
        values["number"] = _free_number(session, tenant_id=tenant_id)
    elif repository.customer_by_number(session, tenant_id=tenant_id, number=values["number"]):
        raise CustomerNumberTaken(f"customer number {values['number']!r} is taken")
    customer = Customer(tenant_id=tenant_id, **values)
    return CUSTOMERS.add(
        session,
        customer,
        CUSTOMER_FIELDS,
        tenant_id=tenant_id,
        by_user_id=by_user_id,
        reason=reason,
    )


def create_customer(
    session: Session,
    *,
    tenant_id: int,
    number: str,
    name: str,
    by_user_id: int | None = None,
    reason: str | None = None,
    **fields: Any,
) -> Customer:
    """``add_customer`` with the fields as keywords (seed data, tests, intake). Values the
    schema refuses are an ``InvalidCustomer`` (422) naming the fields."""
    try:
        data = CustomerCreate(number=number, name=name, **fields)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'customer'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        )
        raise InvalidCustomer(reasons) from None
    return add_customer(
        session, tenant_id=tenant_id, data=data, by_user_id=by_user_id, reason=reason
    )


def add_customers(
    session: Session,
    *,
    tenant_id: int,
    rows: Sequence[CustomerCreate],
    by_user_id: int | None = None,
    reason: str | None = None,
) -> list[int]:
    """Many new customers at once (CSV import), audited as created; their ids, in order.
    The caller has checked that the numbers are free and distinct. Bulk-inserted, so no
    ``Customer`` objects are in the session afterwards."""
    values = [_plain(row.model_dump()) for row in rows]
    in_batch = {v["number"] for v in values if v["number"] is not None}
    for v in values:
        if v["number"] is None:
            v["number"] = _free_number(session, tenant_id=tenant_id, also_taken=in_batch)
            in_batch.add(v["number"])
    ids = repository.insert_rows(session, Customer, [{"tenant_id": tenant_id, **v} for v in values])
    _audit_created(session, ids, values, CUSTOMER_FIELDS, CUSTOMER_ENTITY, tenant_id, by_user_id,
                   reason)  # fmt: skip
    return ids


def _audit_created(
    session: Session,
    ids: Sequence[int],
    values: Sequence[dict[str, Any]],
    fields: Sequence[str],
    entity: str,
    tenant_id: int,
    by_user_id: int | None,
    reason: str | None,
) -> None:
    """What ``audit.record_created`` records, for many rows in one bulk insert."""
    at = utcnow()
    changes = [
        {
            "tenant_id": tenant_id,
            "entity": entity,
            "entity_id": id_,
            "field": field,
            "old_value": None,
            "new_value": text,
            "at": at,
            "by_user_id": by_user_id,
            "by_device_id": None,
            "reason": reason,
        }
        for id_, row in zip(ids, values, strict=True)
        for field in fields
        if (text := audit.as_text(row[field])) is not None
    ]
    repository.insert_rows(session, FieldChange, changes, ids=False)


def update_customer(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int,
    data: CustomerUpdate,
    by_user_id: int | None = None,
) -> Customer:
    """Change the fields sent; every changed field is audited with ``data.reason``."""
    customer = get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    changes = _plain(data.changes())
    try:
        if "postal_code" in changes or "country" in changes:
            changes["postal_code"] = _postal_code(
                changes.get("postal_code", customer.postal_code),
                changes.get("country", customer.country),
            )
        check_einvoice(
            changes.get("einvoice_format", customer.einvoice_format),
            changes.get("peppol_id", customer.peppol_id),
        )
    except ValueError as exc:
        raise InvalidCustomer(str(exc)) from None
    if customer.is_cash and changes.get("is_active") is False:
        raise InvalidCustomer("is_active: the cash customer takes walk-in weighings")
    return CUSTOMERS.change(
        session, customer, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=data.reason
    )


def deactivate_customer(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int,
    by_user_id: int | None = None,
    reason: str | None = None,
) -> Customer:
    return update_customer(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        data=CustomerUpdate(is_active=False, reason=reason),
        by_user_id=by_user_id,
    )


def list_customers(
    session: Session,
    *,
    tenant_id: int,
    q: str | None = None,
    active: bool | None = None,
    needs_review: bool | None = None,
    sort: str = "id",
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Customer], str | None]:
    """A page of customers and the cursor of the next page (None on the last one)."""
    rows = repository.page_customers(
        session,
        tenant_id=tenant_id,
        q=q,
        active=active,
        needs_review=needs_review,
        sort=sort,
        after=_keyset(sort, after),
        limit=limit + 1,
    )
    return rows[:limit], _page(rows, sort=sort, limit=limit)


def customer_history(session: Session, *, tenant_id: int, customer_id: int) -> list[FieldChange]:
    return CUSTOMERS.history(session, tenant_id=tenant_id, id_=customer_id)


def cash_customer(session: Session, *, tenant_id: int) -> Customer:
    """The tenant's walk-in cash customer, created on first use."""
    customer = session.scalar(
        select(Customer).where(Customer.tenant_id == tenant_id, Customer.is_cash.is_(True))
    )
    if customer is None:
        customer = Customer(
            tenant_id=tenant_id,
            number=CASH_CUSTOMER_NUMBER,
            name="Kasklant (contant)",
            is_cash=True,
            payment_terms_days=0,
        )
        CUSTOMERS.add(
            session,
            customer,
            CUSTOMER_FIELDS,
            tenant_id=tenant_id,
            reason="cash customer for walk-ins and unknown vehicles (made on first use)",
        )
    return customer


def find_customer_for_intake(
    session: Session, *, tenant_id: int, email: str | None, kvk: str | None
) -> Customer | None:
    """The active customer an order from outside (webshop) belongs to: the one with this
    e-mail as contact or invoice address (any case), else the one with this KvK number."""
    email = (email or "").strip().lower() or None
    kvk = (kvk or "").replace(" ", "") or None
    return repository.find_for_intake(session, tenant_id=tenant_id, email=email, kvk=kvk)


# -- sites --------------------------------------------------------------------------------------


def get_site(session: Session, *, tenant_id: int, site_id: int) -> Site:
    return SITES.get(session, tenant_id=tenant_id, id_=site_id)


def _check_processor_number(
    session: Session, *, tenant_id: int, number: str | None, site_id: int | None = None
) -> None:
    if number is None:
        return
    other = repository.site_with_processor_number(
        session, tenant_id=tenant_id, processor_number=number
    )
    if other is not None and other.id != site_id:
        raise ProcessorNumberTaken(f"processor number {number!r} is site {other.id}'s")


def add_site(
    session: Session,
    *,
    tenant_id: int,
    data: SiteCreate,
    by_user_id: int | None = None,
    reason: str | None = None,
) -> Site:
    """A new site, audited as created. Its customer must be the tenant's (422 naming
    ``customer_id``); a processor number belongs to one site only (409)."""
    if data.customer_id is not None:
        resolve(session, Customer, field="customer_id", id_=data.customer_id, tenant_id=tenant_id)
    _check_processor_number(session, tenant_id=tenant_id, number=data.processor_number)
    site = Site(tenant_id=tenant_id, **_plain(data.model_dump()))
    return SITES.add(
        session, site, SITE_FIELDS, tenant_id=tenant_id, by_user_id=by_user_id, reason=reason
    )


def add_sites(
    session: Session,
    *,
    tenant_id: int,
    rows: Sequence[SiteCreate],
    by_user_id: int | None = None,
    reason: str | None = None,
) -> list[int]:
    """Many new sites at once (CSV import), audited as created; their ids, in order. The
    caller has resolved the customers within the tenant and checked that processor numbers
    are free and distinct."""
    values = [_plain(row.model_dump()) for row in rows]
    ids = repository.insert_rows(session, Site, [{"tenant_id": tenant_id, **v} for v in values])
    _audit_created(session, ids, values, SITE_FIELDS, SITE_ENTITY, tenant_id, by_user_id, reason)
    return ids


def update_site(
    session: Session,
    *,
    tenant_id: int,
    site_id: int,
    data: SiteUpdate,
    by_user_id: int | None = None,
) -> Site:
    site = get_site(session, tenant_id=tenant_id, site_id=site_id)
    changes = _plain(data.changes())
    if changes.get("customer_id") is not None:
        resolve(session, Customer, field="customer_id", id_=changes["customer_id"],
                tenant_id=tenant_id)  # fmt: skip
    try:
        if "postal_code" in changes or "country" in changes:
            changes["postal_code"] = _postal_code(
                changes.get("postal_code", site.postal_code), changes.get("country", site.country)
            )
        check_site(
            kind=changes.get("kind", site.kind),
            customer_id=changes.get("customer_id", site.customer_id),
            processor_number=changes.get("processor_number", site.processor_number),
            lat=changes.get("lat", site.lat),
            lon=changes.get("lon", site.lon),
        )
    except ValueError as exc:
        raise InvalidSite(str(exc)) from None
    _check_processor_number(
        session, tenant_id=tenant_id, number=changes.get("processor_number"), site_id=site.id
    )
    return SITES.change(
        session, site, changes, tenant_id=tenant_id, by_user_id=by_user_id, reason=data.reason
    )


def deactivate_site(
    session: Session,
    *,
    tenant_id: int,
    site_id: int,
    by_user_id: int | None = None,
    reason: str | None = None,
) -> Site:
    return update_site(
        session,
        tenant_id=tenant_id,
        site_id=site_id,
        data=SiteUpdate(is_active=False, reason=reason),
        by_user_id=by_user_id,
    )


def list_sites(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int | None = None,
    kind: str | None = None,
    q: str | None = None,
    active: bool | None = None,
    sort: str = "id",
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Site], str | None]:
    """A page of sites (of one customer, one kind) and the cursor of the next page. A
    ``customer_id`` of another tenant is a 422 naming it."""
    if customer_id is not None:
        resolve(session, Customer, field="customer_id", id_=customer_id, tenant_id=tenant_id)
    rows = repository.page_sites(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        kind=kind,
        q=q,
        active=active,
        sort=sort,
        after=_keyset(sort, after),
        limit=limit + 1,
    )
    return rows[:limit], _page(rows, sort=sort, limit=limit)


def sites_of_customer(
    session: Session,
    *,
    tenant_id: int,
    customer_id: int,
    active: bool | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Site], str | None]:
    """The customer's sites (404 for a customer the tenant does not have)."""
    get_customer(session, tenant_id=tenant_id, customer_id=customer_id)
    return list_sites(session, tenant_id=tenant_id, customer_id=customer_id, active=active,
                      after=after, limit=limit)  # fmt: skip


def site_history(session: Session, *, tenant_id: int, site_id: int) -> list[FieldChange]:
    return SITES.history(session, tenant_id=tenant_id, id_=site_id)
