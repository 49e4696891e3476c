"""The customer portal: a customer user's orders with their status, a request for a new
order at one of its own sites, one order with its history and documents, and the download
of a document. Everything goes through ``cloud.intake.portal``, scoped to the user's
customer: another customer's order is the 404 page, exactly like one that does not exist."""

from __future__ import annotations

import secrets
import urllib.parse
from typing import Annotated, Any, get_args

from fastapi import Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from cloud.documents.download import download_response
from cloud.documents.service import DocumentNotFound
from cloud.documents.storage import DocumentStore
from cloud.errors import AppError
from cloud.http.deps import AppSettings, DbSession
from cloud.intake import portal
from cloud.intake.schemas import PortalOrderRequest, RequestedOrderType
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.scope import OrderScope
from cloud.orders.validation import DateBounds
from cloud.permissions import Action
from cloud.settings import Settings
from cloud.types import DbId
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
from cloud.web.templating import flash, render

router = make_router(prefix="/portal")
Customer = Annotated[WebUser, Depends(allowed(Action.ORDER_REQUEST))]
PAGE_SIZE = 25
REQUEST_TYPES: tuple[str, ...] = get_args(RequestedOrderType)
"""What a customer may ask for: the intake schema's list, so the form and the check agree."""
FIELDS = (
    "site_id",
    "order_type",
    "requested_date",
    "container_type",
    "material",
    "expected_quantity_kg",
    "reference",
    "notes",
    "request_id",
)


def _scope(user: WebUser) -> OrderScope:
    scope = OrderScope.for_principal(user.principal)
    portal.customer_id_of(scope)  # 403 for a user without a customer
    return scope


def bounds(settings: Settings) -> DateBounds:
    return DateBounds.for_settings(settings)


class ListQuery(WebQuery):
    status: OrderStatus | None = None
    after: DbId | None = None


@router.get("")
def orders(
    request: Request, session: DbSession, user: Customer, params: Annotated[ListQuery, Query()]
) -> Response:
    scope = _scope(user)
    status, after = params.status, params.after
    page = portal.order_page(
        session,
        scope=scope,
        status=status.value if status else None,
        after=after,
        limit=PAGE_SIZE,
    )
    sites = {s.id: s.name for s in portal.sites(session, scope=scope)}
    return render(
        request,
        "portal/list.html",
        orders=page.items,
        sites=sites,
        status=status.value if status else "",
        statuses=[s.value for s in OrderStatus],
        next_url=_list_url(status, page.next_after) if page.next_after else None,
        first_url="/portal" if after else None,
    )


def _list_url(status: OrderStatus | None, after: int) -> str:
    params: dict[str, object] = {"after": after}
    if status is not None:
        params["status"] = status.value
    return f"/portal?{urllib.parse.urlencode(params)}"


def _form(
    request: Request,
    session: Session,
    scope: OrderScope,
    *,
    form: dict[str, Any],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    sites = portal.sites(session, scope=scope)
    return render(
        request,
        "portal/request.html",
        status_code=status_code,
        sites=[(s.id, " · ".join(p for p in (s.name, s.street, s.city) if p)) for s in sites],
        types=REQUEST_TYPES,
        form=form,
        errors=errors or {},
    )


@router.get("/orders/new")
def request_form(request: Request, session: DbSession, user: Customer) -> Response:
    scope = _scope(user)
    # A fresh key per form: sending the same form twice makes one order.
    return _form(request, session, scope, form={"request_id": secrets.token_urlsafe(16)})


@router.post("/orders/new")
def request_order(
    request: Request, session: DbSession, settings: AppSettings, user: Customer, form: FormData
) -> Response:
    scope = _scope(user)
    lang = request.state.web.lang
    try:
        fields = clean(form, FIELDS)
        if "expected_quantity_kg" in fields:
            fields["expected_quantity_kg"] = decimal_input(fields["expected_quantity_kg"])
        fields.update(window(form))
        data = validate(PortalOrderRequest, fields, lang)
        try:
            with session.begin_nested():
                order, _created = portal.request_order(
                    session,
                    scope=scope,
                    user_id=user.principal.user_id,
                    data=data,
                    dates=bounds(settings),
                )
        except AppError as exc:
            raise FormErrors(service_error(exc, lang)) from None
    except FormErrors as exc:
        return _form(
            request,
            session,
            scope,
            form=form,
            errors=translated(exc.errors, lang),
            status_code=422,
        )
    return flash(
        request, RedirectResponse(f"/portal/orders/{order.id}", status_code=303), "requested"
    )


@router.get("/orders/{order_id}")
def order(request: Request, order_id: IdPath, session: DbSession, user: Customer) -> Response:
    scope = _scope(user)
    found = portal.order(session, scope=scope, order_id=order_id)
    shown = portal.render(session, [found])[0]
    docs = portal.documents(session, scope=scope, order_id=order_id)
    sites = {s.id: s.name for s in portal.sites(session, scope=scope)}
    return render(request, "portal/order.html", order=shown, docs=docs, sites=sites)


@router.get("/orders/{order_id}/documents/{document_id}")
def download(
    request: Request, order_id: IdPath, document_id: IdPath, session: DbSession, user: Customer
) -> Response:
    scope = _scope(user)
    doc = portal.document(session, scope=scope, order_id=order_id, document_id=document_id)
    if not doc.stored:
        raise DocumentNotFound(f"document {document_id} has not been uploaded yet")
    store = DocumentStore(request.app.state.settings.data_dir / "documents")
    return download_response(
        store.get(doc.sha256),
        filename=doc.filename,
        content_type=doc.content_type,
        sha256=doc.sha256,
    )
