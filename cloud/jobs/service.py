"""Jobs on the truck: dispatching an order to its vehicle's on-board computer, and recording
what comes back (job updates, proofs of delivery). Called by the API and by ingest; never
commits."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.customers.models import Customer, Site
from cloud.db import utcnow
from cloud.devices.models import Device
from cloud.documents.service import upsert as upsert_document
from cloud.errors import Conflict, NotFound
from cloud.jobs.models import JobEvent, ProofOfDelivery
from cloud.orders.automation import settle_job
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order
from cloud.orders.service import change_status, get_order
from cloud.outbox.service import MQTT_PUBLISH, enqueue
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


def job_id_for(order: Order) -> str:
    return order.number


def dispatch_order(
    session: Session, *, tenant_id: int, order_id: int, by_user_id: int | None, sequence: int = 0
) -> JobDispatch:
    """Send the order as a job to the on-board computer of its vehicle (after commit, through
    the outbox). Plans the order if it was still in the order bin."""
    order = get_order(session, tenant_id=tenant_id, order_id=order_id)
    if order.vehicle_id is None:
        raise NoDeviceForVehicle(f"order {order.number} has no vehicle")
    device = session.scalar(
        select(Device).where(
            Device.tenant_id == tenant_id,
            Device.vehicle_id == order.vehicle_id,
            Device.kind == "truck",
            Device.revoked_at.is_(None),
        )
    )
    if device is None:
        raise NoDeviceForVehicle(f"the vehicle of order {order.number} has no on-board device")
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
    customer = session.get(Customer, order.customer_id)
    site = session.get(Site, order.site_id) if order.site_id else None
    device.down_seq += 1
    revision = device.down_seq
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
            customer_name=customer.name[:64] if customer else None,
            site_name=site.name if site else None,
            address=" ".join(x for x in (site.street, site.postal_code, site.city) if x)
            if site
            else None,
            lat=site.lat if site else None,
            lon=site.lon if site else None,
            container_type=order.container_type,
            material=order.material,
            instructions=order.notes,
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


def _order_for_job(session: Session, device: Device, job_id: str) -> Order:
    order = session.scalar(
        select(Order).where(Order.tenant_id == device.tenant_id, Order.number == job_id)
    )
    if order is None:
        raise UnknownJob(f"job {job_id!r} is not an order of this tenant")
    return order


def record_job_update(session: Session, *, device: Device, msg: JobUpdate) -> JobEvent:
    order = _order_for_job(session, device, msg.job_id)
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
    settle_job(session, order=order, device=device)
    return event


def record_pod(session: Session, *, device: Device, msg: PodMessage) -> ProofOfDelivery:
    order = _order_for_job(session, device, msg.job_id)
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
    attachments = [("signature", msg.signature)] if msg.signature else []
    attachments += [("photo", p) for p in msg.photos]
    for kind, a in attachments:
        assert a is not None
        upsert_document(
            session,
            tenant_id=device.tenant_id,
            sha256=a.sha256,
            kind=kind,
            filename=a.filename,
            content_type=a.content_type,
            size=a.size,
            order_id=order.id,
            original_sha256=a.original_sha256,
            device_id=device.id,
        )
    session.flush()
    settle_job(session, order=order, device=device)
    return pod
