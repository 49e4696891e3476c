"""Office screens for orders: the list (filters, search, keyset paging), one order with its
status history and field audit, the new and edit forms (htmx fills the sites of the chosen
customer and the afvalstroomnummers valid for customer, material and date), and cancel with
a reason. Every rule is the orders service's; these routes parse, call and render."""

from __future__ import annotations

import re
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import StringConstraints
from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.customers import service as customers
from cloud.errors import AppError
from cloud.http.deps import AppSettings, DbSession
from cloud.materials import service as materials
from cloud.orders import service
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import OrderType
from cloud.orders.repository import OrderFilter
from cloud.orders.schemas import (
    IDEMPOTENCY_KEY_MAX,
    IDEMPOTENCY_KEY_PATTERN,
    CancelRequest,
    OrderCreate,
    OrderRead,
    OrderUpdate,
)
from cloud.orders.scope import OFFICE_ROLES, OrderScope
from cloud.orders.validation import DateBounds
from cloud.permissions import Action, Role
from cloud.tenancy import service as tenancy
from cloud.types import DbId, NoNul
from cloud.web import i18n
from cloud.web.forms import (
    FormData,
    FormErrors,
    clean,
    decimal_input,
    service_error,
    translated,
    validate,
    window,
)
from cloud.web.params import IdPath, WebQuery
from cloud.web.routing import make_router
from cloud.web.session import WebUser, allowed
from cloud.web.templating import flash, query, render

router = make_router(prefix="/orders")
Reader = Annotated[WebUser, Depends(allowed(Action.ORDER_READ))]
Creator = Annotated[WebUser, Depends(allowed(Action.ORDER_CREATE))]
Updater = Annotated[WebUser, Depends(allowed(Action.ORDER_UPDATE))]
Canceller = Annotated[WebUser, Depends(allowed(Action.ORDER_CANCEL))]
PAGE_SIZE = 25
CHOICES = 500
"""Customers and materials offered in a select; beyond that the form needs a search."""
MAX_TRAIL = 20
"""Cursors of earlier pages kept in the URL for "previous" (further back: the first page)."""
FORM_FIELDS = (
    "customer_id",
    "order_type",
    "site_id",
    "material_id",
    "waste_stream_id",
    "material",
    "requested_date",
    "container_type",
    "expected_quantity_kg",
    "expected_containers",
    "reference",
    "notes",
)
ORDER_ENTITY = "order"


def portal_user(user: WebUser) -> bool:
    """A customer's user: it follows its orders in the portal, never on the office pages
    (which name other customers, in the filter and elsewhere)."""
    if OrderScope.for_principal(user.principal).customer_id is not None:
        return True
    return Role.CUSTOMER.value in user.roles and not user.roles & OFFICE_ROLES


# -- the list ---------------------------------------------------------------------------------


class ListQuery(WebQuery):
    """The order list's query string (empty fields: no filter)."""

    status: OrderStatus | None = None
    order_type: OrderType | None = None
    customer_id: DbId | None = None
    date_from: date | None = None
    date_to: date | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100), NoNul] | None = None
    after: Annotated[str, StringConstraints(max_length=200)] | None = None
    trail: Annotated[str, StringConstraints(max_length=MAX_TRAIL * 201)] | None = None
    """The cursors of the pages before this one, so "previous" needs nothing stored."""


@router.get("")
def list_orders(
    request: Request,
    session: DbSession,
    user: Reader,
    params: Annotated[ListQuery, Query()],
) -> Response:
    """``after``: the cursor the orders service handed out for this page. A customer's user
    is sent to the portal's list."""
    if portal_user(user):
        return RedirectResponse("/portal", status_code=303)
    after = params.after
    page = service.list_orders(
        session,
        scope=OrderScope.for_principal(user.principal),
        filters=OrderFilter(
            status=params.status,
            order_type=params.order_type,
            customer_id=params.customer_id,
            date_from=params.date_from,
            date_to=params.date_to,
            q=params.q or None,
        ),
        after=after,
        limit=PAGE_SIZE,
    )
    earlier = [c for c in (params.trail or "").split(",") if c][-MAX_TRAIL:]
    next_url = None
    if page.next:
        next_url = query(
            request, after=page.next, trail=",".join([*earlier, after or "-"][-MAX_TRAIL:])
        )
    prev_url = None
    if after:
        back = earlier[-1] if earlier else "-"
        prev_url = query(
            request, after=None if back == "-" else back, trail=",".join(earlier[:-1]) or None
        )
    tenant_id = user.principal.tenant_id
    return render(
        request,
        "orders/list.html",
        orders=page.items,
        statuses=[s.value for s in OrderStatus],
        types=[t.value for t in OrderType],
        # Every customer of the tenant: for those who may read the master data only.
        customers=_customer_choices(session, tenant_id)
        if user.can(Action.MASTERDATA_READ)
        else None,
        filters={
            "status": params.status.value if params.status else "",
            "order_type": params.order_type.value if params.order_type else "",
            "customer_id": params.customer_id or "",
            "date_from": params.date_from.isoformat() if params.date_from else "",
            "date_to": params.date_to.isoformat() if params.date_to else "",
            "q": params.q or "",
        },
        next_url=next_url,
        prev_url=prev_url,
    )


def _customer_choices(session: Session, tenant_id: int) -> list[tuple[int, str]]:
    rows, _ = customers.list_customers(
        session, tenant_id=tenant_id, active=True, sort="name", limit=CHOICES
    )
    return [(c.id, f"{c.name} ({c.number})") for c in rows]


# -- new and edit -----------------------------------------------------------------------------


def _form_page(
    request: Request,
    session: Session,
    user: WebUser,
    *,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    order: OrderRead | None = None,
    status_code: int = 200,
) -> Response:
    tenant_id = user.principal.tenant_id
    customer_id = _int(form.get("customer_id"))
    material_id = _int(form.get("material_id"))
    mats, _ = materials.list_materials(session, tenant_id=tenant_id, active=True, limit=CHOICES)
    return render(
        request,
        "orders/form.html",
        status_code=status_code,
        form=form,
        errors=errors or {},
        order=order,
        types=[t.value for t in OrderType],
        customers=_customer_choices(session, tenant_id),
        sites=_site_choices(session, tenant_id, customer_id),
        materials=[(m.id, f"{m.description} ({m.eural_code or m.code})") for m in mats],
        waste_streams=_stream_choices(
            session, tenant_id, customer_id, material_id, _date(form.get("requested_date"))
        ),
        needs_reason=order is not None
        and order.status not in (OrderStatus.CREATED, OrderStatus.PLANNED),
    )


def _int(value: Any) -> int | None:
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= 2**31 - 1 else None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _site_choices(
    session: Session, tenant_id: int, customer_id: int | None
) -> list[tuple[int, str]]:
    if customer_id is None:
        return []
    try:
        rows, _ = customers.sites_of_customer(
            session, tenant_id=tenant_id, customer_id=customer_id, active=True, limit=CHOICES
        )
    except AppError:  # not this tenant's customer: nothing to offer
        return []
    return [(s.id, " · ".join(p for p in (s.name, s.street, s.city) if p)) for s in rows]


def _stream_choices(
    session: Session,
    tenant_id: int,
    customer_id: int | None,
    material_id: int | None,
    on: date | None,
) -> list[tuple[int, str]]:
    """The customer's active afvalstroomnummers (for the material, valid on the date, when
    those are chosen). The service checks the one picked again when the order is saved."""
    if customer_id is None:
        return []
    rows, _ = materials.list_waste_streams(
        session,
        tenant_id=tenant_id,
        customer_id=customer_id,
        material_id=material_id,
        active=True,
        limit=CHOICES,
    )
    return [
        (w.id, w.number)
        for w in rows
        if on is None or (w.valid_from <= on and (w.valid_until is None or on <= w.valid_until))
    ]


def _fields(form: dict[str, Any]) -> dict[str, Any]:
    fields = clean(form, FORM_FIELDS)
    if "expected_quantity_kg" in fields:
        fields["expected_quantity_kg"] = decimal_input(fields["expected_quantity_kg"])
    fields.update(window(form))
    return fields


def _request_id(form: dict[str, Any]) -> str | None:
    """The form's hidden ``request_id`` (made when the form was shown), if well formed: the
    idempotency key of the new order, so a form sent twice makes one order."""
    value = form.get("request_id")
    if isinstance(value, str) and re.fullmatch(IDEMPOTENCY_KEY_PATTERN, value):
        return value if len(value) <= IDEMPOTENCY_KEY_MAX else None
    return None


@router.get("/new")
def new_order(request: Request, session: DbSession, user: Creator) -> Response:
    form = {
        "customer_id": request.query_params.get("customer_id"),
        "request_id": secrets.token_urlsafe(18),
    }
    return _form_page(request, session, user, form=form)


@router.post("/new")
def create_order(
    request: Request, session: DbSession, settings: AppSettings, user: Creator, form: FormData
) -> Response:
    lang = request.state.web.lang
    try:
        data = validate(OrderCreate, _fields(form), lang)
        try:
            with session.begin_nested():
                # Sent twice (a double click, a reload): the order the first one made.
                order, _ = service.create_order_once(
                    session,
                    tenant_id=user.principal.tenant_id,
                    data=data,
                    source="manual",
                    by_user_id=user.principal.user_id,
                    source_ref=service.manual_source_ref(_request_id(form)),
                    dates=DateBounds.for_settings(settings),
                )
        except AppError as exc:
            raise FormErrors(service_error(exc, lang)) from None
    except FormErrors as exc:
        return _form_page(
            request, session, user, form=form, errors=translated(exc.errors, lang), status_code=422
        )
    return flash(request, RedirectResponse(f"/orders/{order.id}", status_code=303), "created")


def _visible(session: Session, user: WebUser, order_id: int) -> OrderRead:
    order = service.get_order(
        session,
        tenant_id=user.principal.tenant_id,
        order_id=order_id,
        scope=OrderScope.for_principal(user.principal),
    )
    return service.to_read(session, [order], internal=service.may_see_review(user.roles))[0]


def _as_form(order: OrderRead) -> dict[str, Any]:
    return {
        "customer_id": order.customer_id,
        "order_type": order.order_type.value,
        "site_id": order.site_id or "",
        "material_id": order.material_id or "",
        "waste_stream_id": order.waste_stream_id or "",
        "material": order.material or "" if not order.material_id else "",
        "requested_date": order.requested_date.isoformat() if order.requested_date else "",
        "window_from": i18n.format_time(order.window_start),
        "window_to": i18n.format_time(order.window_end),
        "container_type": order.container_type or "",
        "expected_quantity_kg": i18n.format_decimal(order.expected_quantity_kg, "nl"),
        "expected_containers": order.expected_containers or "",
        "reference": order.reference or "",
        "notes": order.notes or "",
    }


@router.get("/{order_id}/edit")
def edit_order(request: Request, order_id: IdPath, session: DbSession, user: Updater) -> Response:
    order = _visible(session, user, order_id)
    return _form_page(request, session, user, form=_as_form(order), order=order)


@router.post("/{order_id}/edit")
def update_order(
    request: Request,
    order_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    user: Updater,
    form: FormData,
) -> Response:
    """Sends every field of the form: an emptied field clears it. The service records only
    what really changed, and refuses what the order's status does not allow."""
    lang = request.state.web.lang
    order = _visible(session, user, order_id)
    try:
        fields = _fields(form)
        sent = {name: fields.get(name) for name in (*FORM_FIELDS, "window_start", "window_end")}
        reason = (form.get("reason") or "").strip()
        if reason:
            sent["reason"] = reason
        data = validate(OrderUpdate, sent, lang)
        try:
            with session.begin_nested():
                service.update_order(
                    session,
                    tenant_id=user.principal.tenant_id,
                    order_id=order.id,
                    data=data,
                    roles=user.roles,
                    by_user_id=user.principal.user_id,
                    dates=DateBounds.for_settings(settings),
                )
        except AppError as exc:
            raise FormErrors(service_error(exc, lang)) from None
    except FormErrors as exc:
        return _form_page(
            request,
            session,
            user,
            form=form,
            order=order,
            errors=translated(exc.errors, lang),
            status_code=422,
        )
    return flash(request, RedirectResponse(f"/orders/{order.id}", status_code=303), "updated")


@router.post("/{order_id}/cancel")
def cancel_order(
    request: Request, order_id: IdPath, session: DbSession, user: Canceller, form: FormData
) -> Response:
    lang = request.state.web.lang
    order = _visible(session, user, order_id)
    data = validate(CancelRequest, clean(form, ("reason",)), lang)
    service.cancel_order(
        session,
        tenant_id=user.principal.tenant_id,
        order_id=order.id,
        reason=data.reason,
        by_user_id=user.principal.user_id,
    )
    return flash(request, RedirectResponse(f"/orders/{order.id}", status_code=303), "cancelled")


# -- htmx: dependent selects ------------------------------------------------------------------


@router.get("/form/sites")
def site_options(
    request: Request,
    session: DbSession,
    user: Creator,
    customer_id: Annotated[str | None, Query(max_length=12)] = None,
) -> Response:
    """The ``<option>``s of the site select for the chosen customer."""
    choices = _site_choices(session, user.principal.tenant_id, _int(customer_id))
    return render(
        request,
        "orders/_options.html",
        options=choices,
        empty="form.none" if choices or customer_id else "orders.pick_customer",
    )


@router.get("/form/waste-streams")
def waste_stream_options(
    request: Request,
    session: DbSession,
    user: Creator,
    customer_id: Annotated[str | None, Query(max_length=12)] = None,
    material_id: Annotated[str | None, Query(max_length=12)] = None,
    requested_date: Annotated[str | None, Query(max_length=10)] = None,
) -> Response:
    """The ``<option>``s of the afvalstroomnummer select: valid for the customer, the
    material and the date chosen so far."""
    choices = _stream_choices(
        session,
        user.principal.tenant_id,
        _int(customer_id),
        _int(material_id),
        _date(requested_date),
    )
    return render(
        request,
        "orders/_options.html",
        options=choices,
        empty="form.none" if choices else "orders.no_waste_streams",
    )


# -- one order (declared last: "/{order_id}" would otherwise take "/new") --------------------


@router.get("/{order_id}")
def show_order(request: Request, order_id: IdPath, session: DbSession, user: Reader) -> Response:
    """A customer's user is sent to the portal's page of its own order (another customer's
    order is the 404 page, as for every caller outside the order's scope)."""
    tenant_id = user.principal.tenant_id
    order = service.get_order(
        session,
        tenant_id=tenant_id,
        order_id=order_id,
        scope=OrderScope.for_principal(user.principal),
    )
    if portal_user(user):
        return RedirectResponse(f"/portal/orders/{order.id}", status_code=303)
    internal = service.may_see_review(user.roles)
    shown: OrderRead = service.to_read(session, [order], internal=internal)[0]
    changes = (
        audit.history(session, tenant_id=tenant_id, entity=ORDER_ENTITY, entity_id=order.id)
        if user.can(Action.ORDER_AUDIT_READ)
        else []
    )
    site = (
        customers.get_site(session, tenant_id=tenant_id, site_id=order.site_id)
        if order.site_id
        else None
    )
    people = {u.id: u.name for u in tenancy.list_users(session, tenant_id=tenant_id)}
    return render(
        request,
        "orders/detail.html",
        order=shown,
        site=site,
        changes=changes,
        people=people,
        may_edit=user.can(Action.ORDER_UPDATE) and shown.status != OrderStatus.CANCELLED,
        may_cancel=user.can(Action.ORDER_CANCEL)
        and shown.status in (OrderStatus.CREATED, OrderStatus.PLANNED),
    )
