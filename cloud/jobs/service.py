"""Jobs on the truck: dispatching an order to its vehicle's on-board computer, and recording
what comes back (job updates, proofs of delivery). Called by the API and by ingest; never
commits.

Who may report on a job: the device it was dispatched to. ``dispatch_order`` records a
:class:`JobAssignment` in the same transaction as the outgoing job; a ``job-update`` or ``pod``
is accepted only from a device with an assignment for that order (a withdrawn one only for what
happened before the withdrawal). Anything else raises :class:`JobNotDispatched` (or
:class:`UnknownJob` when the tenant has no such order), which ingest dead-letters with the
reason and rejects to the device; the order is left untouched. A proof of delivery links only
files of the reporting device that belong to no other order; any other file it names stays
where it is, and the order is flagged instead (the PoD itself is kept:
``cloud.orders.automation.link_device_document``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.customers.models import Customer, Site
from cloud.db import utcnow
from cloud.devices.models import Device
from cloud.errors import Conflict, Forbidden, NotFound
from cloud.jobs.models import JobAssignment, JobEvent, ProofOfDelivery
from cloud.orders.automation import flag_for_review, link_device_document, settle_job
from cloud.orders.events import OrderCancelled, OrderChanged, subscribe
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order
from cloud.orders.service import change_status, get_order
from cloud.outbox.service import MQTT_PUBLISH, enqueue
from cloud.references import resolve
from protocols import DownStream, Job, JobDispatch, JobUpdate, down_topic, encode
from protocols import ProofOfDelivery as PodMessage

JOB_KINDS = {
    "container_place": "place",
    "container_exchange": "exchange",
    "container_collect": "collect",
    "bulk_transport": "transport",
    "walk_in": "other",
    "other": "other",
}


class NoDeviceForVehicle(Conflict):
    pass


class UnknownJob(NotFound):
    pass


class JobNotDispatched(Forbidden):
    """A device reported on an order that was never dispatched to it (or was withdrawn from
    it before the reported moment)."""


def _fit(text: str | None, limit: int) -> str | None:
    """Master data shown to the driver, cut to what the job contract carries (a name or an
    address made only of spaces is left out rather than refused)."""
    text = " ".join((text or "").split())
    return text[:limit] or None


def _clip(text: str | None, limit: int) -> str | None:
    """Free text for the driver (line breaks kept), cut to what the contract carries."""
    text = (text or "").strip()
    return text[:limit].rstrip() or None


def job_id_for(order: Order) -> str:
    return order.number


def _truck_of(session: Session, *, tenant_id: int, vehicle_id: int | None) -> Device | None:
    if vehicle_id is None:
        return None
    return session.scalar(
        select(Device).where(
            Device.tenant_id == tenant_id,
            Device.vehicle_id == vehicle_id,
            Device.kind == "truck",
            Device.revoked_at.is_(None),
        )
    )


def dispatch_order(
    session: Session, *, tenant_id: int, order_id: int, by_user_id: int | None, sequence: int = 0
) -> JobDispatch:
    """Send the order as a job to the on-board computer of its vehicle (after commit, through
    the outbox). Plans the order if it was still in the order bin."""
    order = get_order(session, tenant_id=tenant_id, order_id=order_id)
    if order.vehicle_id is None:
        raise NoDeviceForVehicle(f"order {order.number} has no vehicle")
    device = _truck_of(session, tenant_id=tenant_id, vehicle_id=order.vehicle_id)
    if device is None:
        raise NoDeviceForVehicle(f"the vehicle of order {order.number} has no on-board device")
    # Within the tenant, whatever the order row says: a job must never carry another tenant's
    # customer name or site address to this tenant's truck (rows written before references
    # were resolved on intake are refused here, naming the field).
    customer = resolve(
        session, Customer, field="customer_id", id_=order.customer_id, tenant_id=tenant_id
    )
    site = (
        resolve(session, Site, field="site_id", id_=order.site_id, tenant_id=tenant_id)
        if order.site_id
        else None
    )
    if order.status == OrderStatus.CREATED.value:
        change_status(
            session,
            order=order,
            to=OrderStatus.PLANNED,
            by_user_id=by_user_id,
            reason=f"dispatched to {device.id}",
        )
    elif order.status != OrderStatus.PLANNED.value:
        raise Conflict(f"order {order.number} is {order.status}; only open orders are dispatched")
    device.down_seq += 1
    revision = device.down_seq
    _assign(session, order=order, device=device, revision=revision, now=utcnow())
    msg = JobDispatch(
        message_id=uuid.uuid4(),
        device_id=device.id,
        seq=device.down_seq,
        occurred_at=utcnow(),
        action="upsert",
        job_id=job_id_for(order),
        job=Job(
            job_id=job_id_for(order),
            order_number=order.number,
            revision=revision,
            sequence=sequence,
            kind=JOB_KINDS.get(order.order_type, "other"),  # type: ignore[arg-type]
            planned_date=order.requested_date or utcnow().date(),
            window_start=order.window_start,
            window_end=order.window_end,
            customer_name=_fit(customer.name, 64),
            site_name=_fit(site.name, 200) if site else None,
            address=_fit(" ".join(x for x in (site.street, site.postal_code, site.city) if x), 300)
            if site
            else None,
            lat=site.lat if site else None,
            lon=site.lon if site else None,
            # Rows the schema before issue 8 allowed (longer materials, blank container
            # types, notes up to 4000 characters) are cut to the contract, not refused.
            container_type=_fit(order.container_type, 64),
            material=_fit(order.material, 64),
            instructions=_clip(order.notes, 2000),
            expected_weight_kg=order.expected_quantity_kg,
        ),
    )
    enqueue(
        session,
        tenant_id=tenant_id,
        kind=MQTT_PUBLISH,
        target=down_topic(device.id, DownStream.JOB),
        payload=encode(msg),
    )
    return msg


def _assign(
    session: Session, *, order: Order, device: Device, revision: int, now: datetime
) -> None:
    """Record that ``device`` has the job; withdraw it from any other device (which is told
    to cancel it, through the outbox like the job itself)."""
    rows = session.scalars(
        select(JobAssignment).where(JobAssignment.order_id == order.id).with_for_update()
    ).all()
    mine = None
    for row in rows:
        if row.device_id == device.id:
            mine = row
        elif row.withdrawn_at is None:
            row.withdrawn_at = now
            _send_cancel(session, order=order, device_id=row.device_id)
    if mine is None:
        session.add(
            JobAssignment(
                tenant_id=order.tenant_id,
                order_id=order.id,
                device_id=device.id,
                revision=revision,
                dispatched_at=now,
            )
        )
    else:
        mine.revision = revision
        mine.dispatched_at = now
        mine.withdrawn_at = None
    session.flush()


def _send_cancel(session: Session, *, order: Order, device_id: str) -> None:
    old = session.get(Device, device_id)
    if old is None or old.revoked_at is not None:
        return
    old.down_seq += 1
    msg = JobDispatch(
        message_id=uuid.uuid4(),
        device_id=old.id,
        seq=old.down_seq,
        occurred_at=utcnow(),
        action="cancel",
        job_id=job_id_for(order),
    )
    enqueue(
        session,
        tenant_id=order.tenant_id,
        kind=MQTT_PUBLISH,
        target=down_topic(old.id, DownStream.JOB),
        payload=encode(msg),
    )


def _order_for_job(session: Session, device: Device, job_id: str, at: datetime) -> Order:
    """The order behind ``job_id``, if it was dispatched to ``device`` (and not withdrawn
    before ``at``, the moment the device reports about)."""
    order = session.scalar(
        select(Order).where(Order.tenant_id == device.tenant_id, Order.number == job_id)
    )
    if order is None:
        raise UnknownJob(f"job {job_id!r} is not an order of this tenant")
    assignment = session.scalar(
        select(JobAssignment).where(
            JobAssignment.order_id == order.id, JobAssignment.device_id == device.id
        )
    )
    if assignment is None:
        raise JobNotDispatched(f"job {job_id!r} was not dispatched to device {device.id!r}")
    if assignment.withdrawn_at is not None and at > assignment.withdrawn_at:
        raise JobNotDispatched(
            f"job {job_id!r} was withdrawn from device {device.id!r} at "
            f"{assignment.withdrawn_at.isoformat()}"
        )
    return order


def record_job_update(
    session: Session, *, device: Device, msg: JobUpdate, review_reasons: Sequence[str] = ()
) -> JobEvent:
    """Store the event and settle the order. ``review_reasons`` (e.g. a device clock ahead of
    ours) put the order in front of a person without refusing the fact."""
    order = _order_for_job(session, device, msg.job_id, msg.occurred_at)
    event = JobEvent(
        tenant_id=device.tenant_id,
        order_id=order.id,
        device_id=device.id,
        message_id=str(msg.message_id),
        seq=msg.seq,
        event=msg.event,
        counts=dict(msg.counts),
        weights=[w.model_dump(mode="json") for w in msg.weights],
        notes=msg.notes,
        reason=msg.reason,
        lat=msg.lat,
        lon=msg.lon,
        occurred_at=msg.occurred_at,
    )
    session.add(event)
    session.flush()
    for reason in review_reasons:
        flag_for_review(order, reason)
    settle_job(session, order=order, device=device)
    return event


def record_pod(
    session: Session, *, device: Device, msg: PodMessage, review_reasons: Sequence[str] = ()
) -> ProofOfDelivery:
    """Store the proof of delivery, link its files (only the device's own) and settle the
    order; ``review_reasons`` as in :func:`record_job_update`."""
    order = _order_for_job(session, device, msg.job_id, msg.occurred_at)
    pod = ProofOfDelivery(
        tenant_id=device.tenant_id,
        order_id=order.id,
        device_id=device.id,
        message_id=str(msg.message_id),
        signer_name=msg.signer_name,
        signed_at=msg.signed_at,
        signature_sha256=msg.signature.sha256 if msg.signature else None,
        photo_sha256s=[p.sha256 for p in msg.photos],
        notes=msg.notes,
        occurred_at=msg.occurred_at,
    )
    session.add(pod)
    session.flush()
    attachments = [("signature", msg.signature)] if msg.signature else []
    attachments += [("photo", p) for p in msg.photos]
    for kind, a in attachments:
        assert a is not None
        link_device_document(
            session,
            order=order,
            device=device,
            what=f"proof of delivery {kind}",
            sha256=a.sha256,
            kind=kind,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            original_sha256=a.original_sha256,
        )
    for reason in review_reasons:
        flag_for_review(order, reason)
    settle_job(session, order=order, device=device)
    return pod


def withdraw_jobs(session: Session, *, order: Order) -> list[str]:
    """Withdraw the order's job from every device that has it: each is told to cancel through
    the outbox (sent after the commit). Returns the device ids."""
    now, devices = utcnow(), []
    rows = session.scalars(
        select(JobAssignment)
        .where(JobAssignment.order_id == order.id, JobAssignment.withdrawn_at.is_(None))
        .with_for_update()
    )
    for row in rows:
        row.withdrawn_at = now
        _send_cancel(session, order=order, device_id=row.device_id)
        devices.append(row.device_id)
    session.flush()
    return devices


def _on_cancelled(session: Session, event: OrderCancelled) -> None:
    withdraw_jobs(session, order=event.order)


JOB_FIELDS = frozenset({
    "customer_id", "order_type", "site_id", "vehicle_id", "material_id", "material",
    "requested_date", "window_start", "window_end", "container_type", "expected_quantity_kg",
    "notes",
})  # fmt: skip
"""The order fields a job carries (or that decide where it goes): a change to any other
(reference, lines, afvalstroomnummer ...) is not sent to the truck."""


def _on_changed(session: Session, event: OrderChanged) -> None:
    """A dispatched job follows its order: sent again to the truck of the order's vehicle as
    an update with a new revision (``dispatch_order``, which also withdraws it from the truck
    that had it when the vehicle changed); withdrawn when the order has no vehicle any more,
    or its new vehicle no on-board device. An order never dispatched is left alone."""
    order = event.order
    if not event.fields & JOB_FIELDS or order.status != OrderStatus.PLANNED.value:
        return
    active = session.scalars(
        select(JobAssignment.device_id).where(
            JobAssignment.order_id == order.id, JobAssignment.withdrawn_at.is_(None)
        )
    ).all()
    if not active:
        return
    if _truck_of(session, tenant_id=order.tenant_id, vehicle_id=order.vehicle_id) is None:
        withdraw_jobs(session, order=order)
        return
    # The planner's sequence is not stored with the assignment: the update carries 0.
    dispatch_order(
        session, tenant_id=order.tenant_id, order_id=order.id, by_user_id=event.by_user_id
    )


def register_handlers() -> None:
    """What jobs does when orders change (``cloud.orders.events``): a cancelled order's job is
    withdrawn from the truck; a changed one is sent again (or withdrawn, see
    ``_on_changed``). Called by the entry points; subscribing twice changes nothing."""
    subscribe(OrderCancelled, _on_cancelled)
    subscribe(OrderChanged, _on_changed)


register_handlers()
