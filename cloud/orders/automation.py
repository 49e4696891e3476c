"""Orders made and completed by devices, called by ingest inside its batch transaction.

What a device may act on (issue 8, finding 3):

- a truck acts on the orders dispatched to it: ``cloud.jobs.service`` checks the job
  assignment before anything here runs (``settle_job``);
- a weighbridge never names an order; the cloud picks one for its ticket. It may complete a
  planned order only at its own site: an order planned for the weighbridge's site, or for no
  site at all (the planner left the place open). A weighbridge registered without a site
  completes no planned order; its tickets become walk-in orders, flagged for review. Tickets
  from a device that is not a weighbridge are refused before this (``cloud.weighings``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.containers.service import move_for_order
from cloud.customers.service import cash_customer
from cloud.devices.models import Device
from cloud.documents.service import DocumentInUse, DocumentOwnedByOther
from cloud.documents.service import upsert as upsert_document
from cloud.fleet.service import find_vehicle
from cloud.jobs.models import JobEvent, ProofOfDelivery
from cloud.orders import repository
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderSource, OrderType
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
from cloud.tenancy.models import Tenant
from cloud.weighings.models import Weighing
from protocols.normalize import to_kg

log = structlog.get_logger("cloud.orders")


def _local_day(session: Session, tenant_id: int, at: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(session.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "UTC")
    day = at.astimezone(tz).date()
    start = datetime.combine(day, time.min, tz)
    return start, start + timedelta(days=1)


def flag_for_review(order: Order, reason: str) -> None:
    """Put the order in front of a person, with the reason (once)."""
    if reason not in order.review_reasons:
        order.review_reasons = [*order.review_reasons, reason]
    order.needs_review = True


def link_device_document(
    session: Session,
    *,
    order: Order,
    device: Device,
    what: str,
    sha256: str,
    kind: str,
    filename: str,
    content_type: str,
    size: int = 0,
    original_sha256: str | None = None,
) -> bool:
    """Link a file named in a device's message (a ticket document, a PoD photo) to ``order``.

    The fact that names it is never refused for it: a file the device may not claim (another
    order's, or made by someone else: ``cloud.documents.service.upsert``) is left as it is,
    unlinked, and the order is flagged with the reason. Runs in its own savepoint, nested in
    the caller's, so the refusal undoes only the link; True if the file was linked."""
    try:
        with session.begin_nested():
            upsert_document(
                session,
                tenant_id=device.tenant_id,
                sha256=sha256,
                kind=kind,
                filename=filename,
                content_type=content_type,
                size=size,
                order_id=order.id,
                original_sha256=original_sha256,
                device_id=device.id,
            )
        return True
    except (DocumentInUse, DocumentOwnedByOther) as exc:
        why = exc
    log.warning(
        "orders.document_not_linked",
        order=order.number,
        device=device.id,
        sha256=sha256,
        error=type(why).__name__,
    )
    flag_for_review(order, f"{what} {sha256} not linked: {why}"[:500])
    return False


def execute(session: Session, *, order: Order, device: Device, at: datetime, reason: str) -> None:
    """The order is done: executed, and the container it names moved to where the order
    leaves it (``cloud.containers``); what does not add up there is flagged for review."""
    change_status(
        session, order=order, to=OrderStatus.EXECUTED, by_device_id=device.id, reason=reason
    )
    for why in move_for_order(session, order=order, at=at):
        flag_for_review(order, why)


def execute_from_weighing(
    session: Session, *, weighing: Weighing, device: Device, review_reasons: Sequence[str] = ()
) -> Order:
    """Attach a weighing ticket to the planned order it fulfils at this weighbridge's site, or
    create a walk-in order, and execute it. Idempotent per weighing message (``source_ref``).
    ``review_reasons`` (e.g. a device clock ahead of ours) flag the order."""
    tenant_id = weighing.tenant_id
    source_ref = f"weighing:{weighing.message_id}"
    existing = repository.by_source_ref(session, tenant_id=tenant_id, source_ref=source_ref)
    if existing is not None:
        weighing.order_id = existing.id
        return existing

    vehicle = find_vehicle(
        session, tenant_id=tenant_id, rfid_card=weighing.rfid_card, plate=weighing.plate
    )
    done_at = weighing.second_at or weighing.first_at
    order: Order | None = None
    reasons: list[str] = []
    if vehicle is not None and device.site_id is None:
        reasons.append(f"weighbridge {device.id} has no site: planned orders are not matched")
    elif vehicle is not None:
        day_start, day_end = _local_day(session, tenant_id, done_at)
        order = repository.planned_for_weighing(
            session,
            tenant_id=tenant_id,
            vehicle_id=vehicle.id,
            site_id=device.site_id,
            day_start=day_start,
            day_end=day_end,
            material=weighing.material,
        )
    if order is None:
        if vehicle is None:
            ident = " / ".join(x for x in (weighing.plate, weighing.rfid_card) if x) or "none"
            reasons.append(f"unknown vehicle (plate/card: {ident})")
            customer_id = cash_customer(session, tenant_id=tenant_id).id
        elif vehicle.customer_id is None:
            reasons.append(f"vehicle {vehicle.plate} has no customer: booked on the cash customer")
            customer_id = cash_customer(session, tenant_id=tenant_id).id
        else:
            customer_id = vehicle.customer_id
        if weighing.tare_kind == "manual":
            reasons.append("manual tare")
        if weighing.net == 0:
            reasons.append("net weight 0: in and out weighed the same (a missed pass?)")
        if weighing.first_manual or weighing.second_manual:
            reasons.append("manually entered weight")
        order = create_order(
            session,
            tenant_id=tenant_id,
            data=OrderCreate(
                customer_id=customer_id,
                order_type=OrderType.WALK_IN,
                site_id=device.site_id,
                vehicle_id=vehicle.id if vehicle else None,
                material=weighing.material,
                requested_date=done_at.date(),
                reference=weighing.customer_reference,
            ),
            source=OrderSource.WEIGHING,
            by_device_id=device.id,
            source_ref=source_ref,
            review_reasons=reasons,
            flag_customer_mismatch=True,  # a weighing is never refused for it: flagged
        )
    weighing.order_id = order.id
    order.actual_quantity_kg = to_kg(weighing.net, weighing.unit)
    execute(
        session,
        order=order,
        device=device,
        at=done_at,
        reason=f"weighing ticket {weighing.ticket_number}: net {weighing.net} {weighing.unit}",
    )
    for reason in review_reasons:
        flag_for_review(order, reason)
    return order


def settle_job(session: Session, *, order: Order, device: Device) -> None:
    """Apply what the truck reported. The order is executed once the job is completed and its
    proof of delivery has arrived (in either order: they are separate messages); a failed job
    puts the order in front of a person. Idempotent: replays change nothing."""
    events = list(
        session.scalars(
            select(JobEvent).where(JobEvent.order_id == order.id).order_by(JobEvent.seq)
        )
    )
    if not events:
        return
    last = events[-1]
    if last.event == "failed":
        flag_for_review(order, f"job failed on {device.id}: {last.reason}")
        return
    if last.event != "completed" or order.status not in (
        OrderStatus.CREATED.value,
        OrderStatus.PLANNED.value,
    ):
        return
    pods = list(
        session.scalars(select(ProofOfDelivery).where(ProofOfDelivery.order_id == order.id))
    )
    if not pods:
        return
    reasons = list(order.review_reasons)
    nets = [w for w in last.weights if w.get("mode", "gross") == "net"]
    if nets:
        order.actual_quantity_kg = sum(
            (to_kg(Decimal(w["value"]), w["unit"]) for w in nets), Decimal(0)
        )
    elif last.weights:
        reasons.append("only gross weights recorded: net quantity to be checked")
    if any(w.get("source") == "manual" for w in last.weights):
        reasons.append("manually entered weight")
    if not any(p.signature_sha256 for p in pods):
        reasons.append("no signature on the proof of delivery")
    order.actual_counts = dict(last.counts)
    order.review_reasons = reasons
    order.needs_review = bool(reasons)
    execute(
        session,
        order=order,
        device=device,
        at=last.occurred_at,
        reason=f"job completed on {device.id}",
    )
