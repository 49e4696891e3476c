"""The customer portal's API: a customer user requests orders at its own sites, follows
them and downloads their documents. What a caller sees is ``OrderScope.for_principal``: a
customer user its own customer's orders only; anything else answers 404, exactly as for an
order or document that does not exist. HTTP only; the rules are in ``cloud.intake.portal``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from cloud.api.deps import AppSettings, DbSession, allowed
from cloud.api.params import IdPath, Limit
from cloud.api.routers.documents import store
from cloud.documents.download import download_response
from cloud.documents.models import Document
from cloud.intake import portal
from cloud.intake.schemas import (
    PortalDocuments,
    PortalOrder,
    PortalOrderPage,
    PortalOrderRequest,
    PortalSite,
    PortalWeighing,
)
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.scope import OrderScope
from cloud.orders.service import DateBounds
from cloud.permissions import Action
from cloud.tenancy.service import Principal
from cloud.types import MAX_ID

router = APIRouter(prefix="/api/v1/portal", tags=["portal"])
Requester = Annotated[Principal, Depends(allowed(Action.ORDER_REQUEST))]
Reader = Annotated[Principal, Depends(allowed(Action.ORDER_READ))]
DocumentReader = Annotated[Principal, Depends(allowed(Action.DOCUMENT_READ))]
After = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="the next_after of the previous page")
]


@router.get("/sites", response_model=list[PortalSite])
def list_sites(session: DbSession, principal: Requester) -> list[PortalSite]:
    """The customer's own sites: where it can ask for an order."""
    rows = portal.sites(session, scope=OrderScope.for_principal(principal))
    return [PortalSite.model_validate(s) for s in rows]


@router.post("/orders", response_model=PortalOrder, status_code=status.HTTP_201_CREATED)
def request_order(
    body: PortalOrderRequest,
    session: DbSession,
    settings: AppSettings,
    principal: Requester,
    response: Response,
) -> PortalOrder:
    """A new order at one of the customer's own sites (any other ``site_id``: 422). The same
    ``request_id`` again answers 200 with the order the first request made."""
    order, created = portal.request_order(
        session,
        scope=OrderScope.for_principal(principal),
        user_id=principal.user_id,
        data=body,
        dates=DateBounds.for_settings(settings),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return portal.render(session, [order])[0]


@router.get("/orders", response_model=PortalOrderPage)
def list_orders(
    session: DbSession,
    principal: Reader,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    after: After = None,
    limit: Limit = 50,
) -> PortalOrderPage:
    """The caller's orders, newest first; pass ``next_after`` as ``after`` for the next
    page."""
    return portal.order_page(
        session,
        scope=OrderScope.for_principal(principal),
        status=status_.value if status_ else None,
        after=after,
        limit=limit,
    )


@router.get("/orders/{order_id}", response_model=PortalOrder)
def get_order(order_id: IdPath, session: DbSession, principal: Reader) -> PortalOrder:
    order = portal.order(session, scope=OrderScope.for_principal(principal), order_id=order_id)
    return portal.render(session, [order])[0]


@router.get("/orders/{order_id}/documents", response_model=PortalDocuments)
def list_documents(
    order_id: IdPath, session: DbSession, principal: DocumentReader
) -> PortalDocuments:
    """The order's files, and its weighing tickets as data when no ticket PDF is stored."""
    return portal.documents(session, scope=OrderScope.for_principal(principal), order_id=order_id)


def _download(request: Request, doc: Document) -> Response:
    return download_response(
        store(request).get(doc.sha256),
        filename=doc.filename,
        content_type=doc.content_type,
        sha256=doc.sha256,
    )


@router.get(
    "/orders/{order_id}/documents/{document_id}",
    response_class=Response,
    responses={200: {"description": "the file, as an attachment"}},
)
def download_document(
    order_id: IdPath,
    document_id: IdPath,
    request: Request,
    session: DbSession,
    principal: DocumentReader,
) -> Response:
    doc = portal.document(
        session,
        scope=OrderScope.for_principal(principal),
        order_id=order_id,
        document_id=document_id,
    )
    return _download(request, doc)


@router.get(
    "/orders/{order_id}/ticket",
    response_model=list[PortalWeighing],
    responses={200: {"description": "the ticket PDF when stored, else the weighings as JSON"}},
)
def weighing_ticket(
    order_id: IdPath, request: Request, session: DbSession, principal: DocumentReader
) -> Response | list[PortalWeighing]:
    ticket = portal.weighing_ticket(
        session, scope=OrderScope.for_principal(principal), order_id=order_id
    )
    if isinstance(ticket, Document):
        return _download(request, ticket)
    return ticket
