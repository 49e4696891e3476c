"""The webshop channel: signed deliveries become orders, exactly once per ``webhook-id`` and
once per shop order. Plain functions with keyword-only arguments; they never commit."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cloud.audit import service as audit
from cloud.customers.models import Customer, Site
from cloud.customers.schemas import CustomerCreate
from cloud.customers.service import add_customer, find_customer_for_intake
from cloud.intake import repository, webhooks
from cloud.intake.errors import DeliveryInProgress, WebhookPayloadInvalid, WebhookRejected
from cloud.intake.models import WebhookSecret
from cloud.intake.schemas import WebshopAccepted, WebshopOrder, WebshopSite
from cloud.materials.models import Material
from cloud.orders import repository as orders_repository
from cloud.orders.models import Order, OrderSource, OrderType
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import DateBounds, create_order_once

log = structlog.get_logger("cloud.intake")

ROTATION_OVERLAP = timedelta(hours=24)
"""After a rotation the previous secret keeps verifying this long."""
SOURCE_REF_PREFIX = "webshop:"
SITE_FIELDS = ("name", "kind", "customer_id", "street", "postal_code", "city", "country")

# A key no tenant has: an unknown tenant is checked against it, so that an unknown slug
# costs the same work and gets the same answer as a wrong signature.
_NO_TENANT_KEY = webhooks.secret_key(webhooks.new_secret())


@dataclass(frozen=True)
class DeliveryHeaders:
    webhook_id: str | None
    timestamp: str | None
    signature: str | None


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]


# -- secrets ---------------------------------------------------------------------------------


def ensure_secret(session: Session, *, tenant_id: int) -> str:
    """The tenant's current signing secret, made now if it has none."""
    current = repository.current_secrets(session, tenant_id=tenant_id)
    if current:
        return current[0].secret
    return _add_secret(session, tenant_id=tenant_id)


def rotate_secret(session: Session, *, tenant_id: int, now: datetime) -> str:
    """A new signing secret; the previous one keeps verifying for ``ROTATION_OVERLAP``."""
    for old in repository.current_secrets(session, tenant_id=tenant_id):
        old.expires_at = now + ROTATION_OVERLAP
    return _add_secret(session, tenant_id=tenant_id)


def _add_secret(session: Session, *, tenant_id: int) -> str:
    secret = webhooks.new_secret()
    session.add(WebhookSecret(tenant_id=tenant_id, secret=secret))
    session.flush()
    log.info("intake.webhook_secret_created", tenant_id=tenant_id)
    return secret


# -- deliveries ------------------------------------------------------------------------------


def verify_delivery(
    session: Session, *, tenant_slug: str, headers: DeliveryHeaders, body: bytes, now: datetime
) -> tuple[int, str]:
    """The tenant and ``webhook-id`` of an authentic delivery, else ``WebhookRejected``."""
    try:
        signed = webhooks.check_headers(
            webhook_id=headers.webhook_id,
            timestamp=headers.timestamp,
            signature=headers.signature,
            now=now,
        )
    except webhooks.SignatureError as exc:
        log.info("intake.webhook_rejected", tenant_slug=tenant_slug[:64], why=str(exc))
        raise WebhookRejected(str(exc)) from None
    tenant_id, secrets = repository.tenant_and_secrets(session, slug=tenant_slug, now=now)
    # An unknown tenant does the same work as a known one (one query, an HMAC) and fails.
    keys = [webhooks.secret_key(secret) for secret in secrets] or [_NO_TENANT_KEY]
    authentic = webhooks.verify(keys=keys, headers=signed, body=body)
    if tenant_id is None or not authentic:
        log.info("intake.webhook_rejected", tenant_slug=tenant_slug[:64], why="signature")
        raise WebhookRejected("no valid signature")
    return tenant_id, signed.webhook_id


def receive_webshop_delivery(
    session: Session,
    *,
    tenant_slug: str,
    headers: DeliveryHeaders,
    body: bytes,
    now: datetime,
    dates: DateBounds | None = None,
) -> Answer:
    """One webhook delivery: verified on the raw bytes before anything is parsed; a
    ``webhook-id`` seen before gets the answer it got then and makes nothing."""
    tenant_id, webhook_id = verify_delivery(
        session, tenant_slug=tenant_slug, headers=headers, body=body, now=now
    )
    delivery_id = repository.claim_delivery(session, tenant_id=tenant_id, webhook_id=webhook_id)
    if delivery_id is None:  # seen before (or being answered right now: we waited for it)
        first = repository.delivery(session, tenant_id=tenant_id, webhook_id=webhook_id)
        if first is None:  # not visible yet (SQLite never gets here: it has one writer)
            raise DeliveryInProgress(f"delivery {webhook_id} is being taken in; retry")
        return Answer(first.status_code, first.response)
    try:
        payload = WebshopOrder.model_validate_json(body)
    except ValidationError as exc:
        # Raised: the claimed row is rolled back with the request, so a corrected resend of
        # the same webhook-id is taken in.
        raise WebhookPayloadInvalid(_describe(exc)) from None
    order, created = take_in_webshop_order(
        session, tenant_id=tenant_id, payload=payload, dates=dates
    )
    answer = WebshopAccepted(
        order_id=order.id,
        number=order.number,
        status=order.status,
        customer_id=order.customer_id,
        created=created,
    ).model_dump(mode="json")
    repository.record_answer(
        session, delivery_id=delivery_id, status_code=201, response=answer, order_id=order.id
    )
    return Answer(201, answer)


class _TakenInMeanwhile(Exception):
    """Rolls back what this delivery made when another delivery's order stands."""

    def __init__(self, order: Order) -> None:
        self.order = order


def take_in_webshop_order(
    session: Session, *, tenant_id: int, payload: WebshopOrder, dates: DateBounds | None = None
) -> tuple[Order, bool]:
    """The order for this shop order: made now, or the one an earlier delivery made
    (``created`` False). A known customer at a known site goes straight to the order (which
    is made once per ``source_ref`` by the orders service); a new customer or site is made in
    a savepoint, rolled back when the order turns out to exist already.

    Everything is looked up before anything is written: a new customer's number locks the
    tenant's customer series until COMMIT, so it is taken as late as possible."""
    source_ref = SOURCE_REF_PREFIX + payload.shop_order_id
    material = _material(session, tenant_id=tenant_id, payload=payload)
    customer = find_customer_for_intake(
        session, tenant_id=tenant_id, email=payload.customer.email, kvk=payload.customer.kvk
    )
    site = None
    if customer is not None:
        site = _matching_site(session, tenant_id=tenant_id, customer=customer, address=payload.site)
        if site is not None:
            return _order(
                session,
                tenant_id=tenant_id,
                payload=payload,
                source_ref=source_ref,
                customer=customer,
                site=site,
                material=material,
                reasons=[],
                dates=dates,
            )
    existing = orders_repository.by_source_ref(session, tenant_id=tenant_id, source_ref=source_ref)
    if existing is not None:
        return existing, False
    try:
        with session.begin_nested():
            reasons = []
            audit_rows: list[dict[str, Any]] = []
            if customer is None:
                customer = _new_customer(session, tenant_id=tenant_id, payload=payload)
                reasons.append(f"new customer {customer.number} from the webshop: check it")
            site = _new_site(
                session,
                tenant_id=tenant_id,
                customer=customer,
                address=payload.site,
                audit_rows=audit_rows,
            )
            audit.record_rows(session, audit_rows)
            order, created = _order(
                session,
                tenant_id=tenant_id,
                payload=payload,
                source_ref=source_ref,
                customer=customer,
                site=site,
                material=material,
                reasons=reasons,
                dates=dates,
                source_ref_unused=True,
            )
            if not created:
                raise _TakenInMeanwhile(order)
    except _TakenInMeanwhile as taken:
        # Another delivery of the same shop order won the race: its order stands, and the
        # customer and site this one made were rolled back with the savepoint.
        return taken.order, False
    return order, True


def _material(session: Session, *, tenant_id: int, payload: WebshopOrder) -> Material | None:
    """The active material of the payload's code (None: no code, or an unknown one)."""
    if payload.material_code is None:
        return None
    return repository.material_by_code(session, tenant_id=tenant_id, code=payload.material_code)


def _order(
    session: Session,
    *,
    tenant_id: int,
    payload: WebshopOrder,
    source_ref: str,
    customer: Customer,
    site: Site,
    material: Material | None,
    reasons: list[str],
    dates: DateBounds | None,
    source_ref_unused: bool = False,
) -> tuple[Order, bool]:
    fields: dict[str, Any] = {}
    if material is not None:
        fields["material_id"] = material.id
    elif payload.material_code is not None:
        reasons = [*reasons, f"unknown material code {payload.material_code!r}"]
        fields["material"] = payload.material_code
    data = OrderCreate(
        customer_id=customer.id,
        order_type=OrderType(payload.order_type),
        site_id=site.id,
        requested_date=payload.requested_date,
        container_type=payload.container_type,
        reference=payload.reference,
        notes=payload.notes,
        **fields,
    )
    return create_order_once(
        session,
        tenant_id=tenant_id,
        data=data,
        source=OrderSource.WEBSHOP,
        source_ref=source_ref,
        review_reasons=reasons,
        dates=dates,
        source_ref_unused=source_ref_unused,
    )


def _new_customer(session: Session, *, tenant_id: int, payload: WebshopOrder) -> Customer:
    """A new customer, flagged for review, made (and audited) by the customers service: its
    number is the next one of the tenant's customer series that no customer has yet (a
    number typed by hand may have taken one).

    The webshop's contract (``WebshopOrder``) has checked the fields; the customer schema's
    own formats (phone, Dutch postal code) are not applied again: a paid shop order is not
    refused for them, the office reviews the customer anyway."""
    who = payload.customer
    billing = who.address or payload.site
    data = CustomerCreate.model_construct(
        number=None,
        name=who.name,
        email=who.email.lower(),  # as the customers service stores it
        kvk=who.kvk,
        phone=who.phone,
        street=billing.street,
        postal_code=billing.postal_code,
        city=billing.city,
        country=billing.country,
        needs_review=True,
    )
    return add_customer(
        session,
        tenant_id=tenant_id,
        data=data,
        reason=f"webshop order {payload.shop_order_id}",
    )


def _address_key(postal_code: str | None, street: str | None) -> tuple[str, str]:
    """``1234 ab`` and ``1234AB``, ``Dorpsstraat  1`` and ``dorpsstraat 1`` are one place."""
    return (
        re.sub(r"\s+", "", postal_code or "").upper(),
        " ".join((street or "").split()).casefold(),
    )


def _matching_site(
    session: Session, *, tenant_id: int, customer: Customer, address: WebshopSite
) -> Site | None:
    """The customer's site at this postal code and street, if it has one."""
    wanted = _address_key(address.postal_code, address.street)
    for site in repository.customer_sites(session, tenant_id=tenant_id, customer_id=customer.id):
        if _address_key(site.postal_code, site.street) == wanted:
            return site
    return None


def _new_site(
    session: Session,
    *,
    tenant_id: int,
    customer: Customer,
    address: WebshopSite,
    audit_rows: list[dict[str, Any]],
) -> Site:
    """A new site of the customer; its audit rows are appended to ``audit_rows``."""
    site = Site(
        tenant_id=tenant_id,
        name=(address.name or f"{address.street}, {address.city}")[:200],
        kind="customer_site",
        customer_id=customer.id,
        street=address.street,
        postal_code=address.postal_code,
        city=address.city,
        country=address.country,
        access_notes=address.access_notes,
    )
    session.add(site)
    session.flush()
    audit_rows += audit.created_rows(
        site, SITE_FIELDS, tenant_id=tenant_id, entity="site", reason="webshop order"
    )
    return site


def _describe(exc: ValidationError) -> str:
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:20]
    ]
    return "; ".join(parts)
