"""Orders made and completed by devices, called by ingest inside its batch transaction."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.customers.service import cash_customer
from cloud.devices.models import Device
from cloud.fleet.service import find_vehicle
from cloud.orders import repository
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
from cloud.tenancy.models import Tenant
from cloud.weighings.models import Weighing


def _local_day(session: Session, tenant_id: int, at: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(session.scalar(select(Tenant.timezone).where(Tenant.id == tenant_id)) or "UTC")
    day = at.astimezone(tz).date()
    start = datetime.combine(day, time.min, tz)
    return start, start + timedelta(days=1)


def execute_from_weighing(session: Session, *, weighing: Weighing, device: Device) -> Order:
    """Attach a weighing ticket to the planned order it fulfils, or create a walk-in order, and
    execute it. Idempotent per weighing message (``source_ref``)."""
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
    if vehicle is not None:
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
        reasons: list[str] = []
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
        if weighing.first_manual or weighing.second_manual:
            reasons.append("manually entered weight")
        order = create_order(
            session,
            tenant_id=tenant_id,
            data=OrderCreate(
                customer_id=customer_id,
                order_type="walk_in",
                site_id=device.site_id,
                vehicle_id=vehicle.id if vehicle else None,
                material=weighing.material,
                requested_date=done_at.date(),
                reference=weighing.customer_reference,
            ),
            source="weighing",
            by_device_id=device.id,
            source_ref=source_ref,
            review_reasons=reasons,
        )
    weighing.order_id = order.id
    change_status(
        session,
        order=order,
        to=OrderStatus.EXECUTED,
        by_device_id=device.id,
        reason=f"weighing ticket {weighing.ticket_number}: net {weighing.net} {weighing.unit}",
    )
    return order
