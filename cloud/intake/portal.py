"""The customer portal: a customer user requests orders at its own sites, follows them and
downloads their documents. Everything is scoped to the user's customer through
``cloud.orders.scope.OrderScope``; another customer's order or document is reported exactly
like one that does not exist. Plain functions; they never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from cloud.customers.models import Site
from cloud.documents.models import Document
from cloud.documents.service import DocumentNotFound
from cloud.intake import repository
from cloud.intake.errors import NotACustomerUser
from cloud.intake.schemas import (
    PortalDocument,
    PortalDocuments,
    PortalOrder,
    PortalOrderPage,
    PortalOrderRequest,
    PortalStatusChange,
    PortalWeighing,
)
from cloud.orders import repository as orders_repository
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderSource
from cloud.orders.schemas import OrderCreate
from cloud.orders.scope import OrderScope
from cloud.orders.service import DateBounds, create_order_once, get_order
from cloud.references import resolve
from cloud.weighings.models import Weighing

TICKET_KIND = "ticket"
TICKET_TYPE = "application/pdf"


def customer_id_of(scope: OrderScope) -> int:
    """The customer a portal caller acts for; office users and drivers have none."""
    if scope.customer_id is None or scope.none:
        raise NotACustomerUser("the portal is for users linked to a customer")
    return scope.customer_id


def sites(session: Session, *, scope: OrderScope) -> Sequence[Site]:
    return repository.customer_sites(
        session, tenant_id=scope.tenant_id, customer_id=customer_id_of(scope)
    )


def request_order(
    session: Session,
    *,
    scope: OrderScope,
    user_id: int,
    data: PortalOrderRequest,
    dates: DateBounds | None = None,
) -> tuple[Order, bool]:
    """A new order at one of the customer's own sites (``site_id`` of anyone else: 422 as
    for a site that does not exist). With a ``request_id``, asking again returns the order
    the first request made (``created`` False)."""
    customer_id = customer_id_of(scope)
    resolve(
        session,
        Site,
        field="site_id",
        id_=data.site_id,
        tenant_id=scope.tenant_id,
        customer_id=customer_id,
    )
    # The customer is part of the key: one customer's request ids never meet another's.
    source_ref = f"portal:{customer_id}:{data.request_id}" if data.request_id else None
    if source_ref is not None:
        existing = orders_repository.by_source_ref(
            session, tenant_id=scope.tenant_id, source_ref=source_ref
        )
        if existing is not None:
            return existing, False
    order_data = OrderCreate(
        customer_id=customer_id,
        **data.model_dump(exclude={"request_id"}),
    )
    return create_order_once(
        session,
        tenant_id=scope.tenant_id,
        data=order_data,
        source=OrderSource.PORTAL,
        source_ref=source_ref,
        by_user_id=user_id,
        dates=dates,
    )


def order_page(
    session: Session,
    *,
    scope: OrderScope,
    status: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> PortalOrderPage:
    """The caller's orders, newest first, keyset-paged on the id by the order list's own
    query: ``after`` is the ``next_after`` of the previous page (the customer's own order
    ids are no secret to it; another customer's id only ever gives orders older than it)."""
    rows = orders_repository.list_page(
        session,
        scope=scope,
        filters=orders_repository.OrderFilter(status=OrderStatus(status) if status else None),
        after_id=after,
        limit=limit,
    )
    page, more = rows[:limit], len(rows) > limit
    return PortalOrderPage(
        items=render(session, page), next_after=page[-1].id if more and page else None
    )


def order(session: Session, *, scope: OrderScope, order_id: int) -> Order:
    """The order if the caller may see it, else ``OrderNotFound`` (also for another
    customer's order)."""
    return get_order(session, tenant_id=scope.tenant_id, order_id=order_id, scope=scope)


def render(session: Session, orders: Sequence[Order]) -> list[PortalOrder]:
    history = orders_repository.status_history(session, {o.id for o in orders})
    return [
        PortalOrder(
            id=o.id,
            number=o.number,
            order_type=o.order_type,
            source=o.source,
            status=o.status,
            site_id=o.site_id,
            requested_date=o.requested_date,
            window_start=o.window_start,
            window_end=o.window_end,
            container_type=o.container_type,
            material=o.material,
            expected_quantity_kg=o.expected_quantity_kg,
            actual_quantity_kg=o.actual_quantity_kg,
            reference=o.reference,
            notes=o.notes,
            created_at=o.created_at,
            executed_at=o.executed_at,
            history=[
                PortalStatusChange(status=h.to_status, at=h.at) for h in history.get(o.id, [])
            ],
        )
        for o in orders
    ]


def documents(session: Session, *, scope: OrderScope, order_id: int) -> PortalDocuments:
    """The order's stored files, and its weighing tickets as data when there is no ticket
    document to download."""
    visible = order(session, scope=scope, order_id=order_id)
    docs = repository.stored_documents(session, tenant_id=scope.tenant_id, order_id=visible.id)
    has_ticket = any(_is_ticket(d) for d in docs)
    weighings = (
        []
        if has_ticket
        else repository.weighings(session, tenant_id=scope.tenant_id, order_id=visible.id)
    )
    return PortalDocuments(
        documents=[PortalDocument.model_validate(d) for d in docs],
        weighings=[PortalWeighing.model_validate(w) for w in weighings],
    )


def document(session: Session, *, scope: OrderScope, order_id: int, document_id: int) -> Document:
    """A stored file of a visible order; any other id: ``DocumentNotFound``."""
    visible = order(session, scope=scope, order_id=order_id)
    doc = repository.order_document(
        session, tenant_id=scope.tenant_id, order_id=visible.id, document_id=document_id
    )
    if doc is None:
        raise DocumentNotFound(f"document {document_id} not found")
    return doc


def weighing_ticket(
    session: Session, *, scope: OrderScope, order_id: int
) -> Document | list[PortalWeighing]:
    """The weighing ticket of the order: its PDF when one was stored, else the weighings as
    data; ``DocumentNotFound`` when the order has neither."""
    visible = order(session, scope=scope, order_id=order_id)
    for doc in repository.stored_documents(session, tenant_id=scope.tenant_id, order_id=visible.id):
        if _is_ticket(doc):
            return doc
    weighings: Sequence[Weighing] = repository.weighings(
        session, tenant_id=scope.tenant_id, order_id=visible.id
    )
    if not weighings:
        raise DocumentNotFound(f"order {order_id} has no weighing ticket")
    return [PortalWeighing.model_validate(w) for w in weighings]


def _is_ticket(doc: Document) -> bool:
    return doc.kind == TICKET_KIND and doc.content_type == TICKET_TYPE
