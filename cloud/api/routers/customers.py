"""Customers and sites (master data): HTTP only; the rules are in ``cloud.customers``.

Read with ``masterdata.read``, change with ``masterdata.write``. A customer or site of another
tenant is a 404 in the path and a 422 naming the field in a body or query string."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from cloud.api.deps import DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.audit.schemas import FieldChangeRead
from cloud.customers import service
from cloud.customers.models import SiteKind
from cloud.customers.schemas import (
    CustomerCreate,
    CustomerPage,
    CustomerRead,
    CustomerUpdate,
    SiteCreate,
    SitePage,
    SiteRead,
    SiteUpdate,
    SortKey,
)
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID

router = APIRouter(prefix="/api/v1", tags=["customers"])

Reader = Annotated[Principal, Depends(allowed(Action.MASTERDATA_READ))]
Writer = Annotated[Principal, Depends(allowed(Action.MASTERDATA_WRITE))]
Search = Annotated[
    str | None,
    Query(min_length=1, max_length=100, description="part of the number, name or city"),
]
Active = Annotated[bool | None, Query(description="only active (true) or inactive (false)")]
After = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=600,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the next_after of the previous page",
    ),
]
Sort = Annotated[SortKey, Query(description="order by id or by name")]


# -- customers ----------------------------------------------------------------------------------


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    session: DbSession,
    principal: Reader,
    q: Search = None,
    active: Active = None,
    needs_review: Annotated[bool | None, Query(description="created by intake, unchecked")] = None,
    sort: Sort = "id",
    after: After = None,
    limit: Limit = 50,
) -> CustomerPage:
    rows, next_after = service.list_customers(
        session,
        tenant_id=principal.tenant_id,
        q=q,
        active=active,
        needs_review=needs_review,
        sort=sort,
        after=after,
        limit=limit,
    )
    return CustomerPage(items=[CustomerRead.model_validate(c) for c in rows], next_after=next_after)


@router.post("/customers", response_model=CustomerRead, status_code=status.HTTP_201_CREATED)
def create_customer(body: CustomerCreate, session: DbSession, principal: Writer) -> CustomerRead:
    """Without ``number``, the next number of the tenant's customer series is given; a
    number already taken is a 409."""
    customer = service.add_customer(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return CustomerRead.model_validate(customer)


@router.get("/customers/{customer_id}", response_model=CustomerRead)
def get_customer(customer_id: IdPath, session: DbSession, principal: Reader) -> CustomerRead:
    customer = service.get_customer(session, tenant_id=principal.tenant_id, customer_id=customer_id)
    return CustomerRead.model_validate(customer)


@router.patch("/customers/{customer_id}", response_model=CustomerRead)
def update_customer(
    customer_id: IdPath, body: CustomerUpdate, session: DbSession, principal: Writer
) -> CustomerRead:
    """Only the fields sent change (``null`` clears an optional one); each change is audited
    with ``reason``. ``is_active: false`` deactivates: customers are never deleted."""
    customer = service.update_customer(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return CustomerRead.model_validate(customer)


@router.get("/customers/{customer_id}/sites", response_model=SitePage)
def customer_sites(
    customer_id: IdPath,
    session: DbSession,
    principal: Reader,
    active: Active = None,
    after: After = None,
    limit: Limit = 50,
) -> SitePage:
    rows, next_after = service.sites_of_customer(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer_id,
        active=active,
        after=after,
        limit=limit,
    )
    return SitePage(items=[SiteRead.model_validate(s) for s in rows], next_after=next_after)


@router.get("/customers/{customer_id}/history", response_model=list[FieldChangeRead])
def customer_history(
    customer_id: IdPath, session: DbSession, principal: Reader
) -> list[FieldChangeRead]:
    """Every audited change, oldest first: who, when, field, old and new value, why."""
    rows = service.customer_history(session, tenant_id=principal.tenant_id, customer_id=customer_id)
    return [FieldChangeRead.model_validate(r) for r in rows]


# -- sites --------------------------------------------------------------------------------------


@router.get("/sites", response_model=SitePage)
def list_sites(
    session: DbSession,
    principal: Reader,
    customer_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only this customer's sites")
    ] = None,
    kind: Annotated[SiteKind | None, Query()] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="part of the name, street or city"),
    ] = None,
    active: Active = None,
    sort: Sort = "id",
    after: After = None,
    limit: Limit = 50,
) -> SitePage:
    rows, next_after = service.list_sites(
        session,
        tenant_id=principal.tenant_id,
        customer_id=customer_id,
        kind=kind,
        q=q,
        active=active,
        sort=sort,
        after=after,
        limit=limit,
    )
    return SitePage(items=[SiteRead.model_validate(s) for s in rows], next_after=next_after)


@router.post("/sites", response_model=SiteRead, status_code=status.HTTP_201_CREATED)
def create_site(body: SiteCreate, session: DbSession, principal: Writer) -> SiteRead:
    site = service.add_site(
        session, tenant_id=principal.tenant_id, data=body, by_user_id=principal.user_id
    )
    return SiteRead.model_validate(site)


@router.get("/sites/{site_id}", response_model=SiteRead)
def get_site(site_id: IdPath, session: DbSession, principal: Reader) -> SiteRead:
    return SiteRead.model_validate(
        service.get_site(session, tenant_id=principal.tenant_id, site_id=site_id)
    )


@router.patch("/sites/{site_id}", response_model=SiteRead)
def update_site(
    site_id: IdPath, body: SiteUpdate, session: DbSession, principal: Writer
) -> SiteRead:
    site = service.update_site(
        session,
        tenant_id=principal.tenant_id,
        site_id=site_id,
        data=body,
        by_user_id=principal.user_id,
    )
    return SiteRead.model_validate(site)


@router.get("/sites/{site_id}/history", response_model=list[FieldChangeRead])
def site_history(site_id: IdPath, session: DbSession, principal: Reader) -> list[FieldChangeRead]:
    rows = service.site_history(session, tenant_id=principal.tenant_id, site_id=site_id)
    return [FieldChangeRead.model_validate(r) for r in rows]
