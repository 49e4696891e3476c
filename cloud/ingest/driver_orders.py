"""Orders the driver made on the truck's page (``OrderRequest``, stream ``order``), called by
the ingest pipeline inside its batch transaction.

Who may send one: only a device of kind ``truck`` (a weighbridge terminal has no driver); any
other sender's message is refused with :class:`~cloud.ingest.errors.NotATruck` and kept as a
dead letter. The order is made on the truck's own vehicle, with source ``driver`` and
``source_ref`` ``driver:<client_order_id>``: the id the truck made when the form was opened is
the idempotency key, next to ingest's own deduplication of the message id.

What the driver typed is a request, not master data: every driver-made order is flagged for
the office ("made by driver on <plate>"), and the names the driver used are matched, never
created:

- **Customer.** A customer number of this tenant names the customer. When the number is
  unknown or the driver only knew a name, the order still has to belong to a customer (the
  column is required) and the fact from the truck must never be lost, so it is booked on the
  tenant's cash customer (``cloud.customers.service.cash_customer``), flagged with what the
  driver wrote, and the name is in the notes. Why the cash customer and not a new customer
  row: the domain has one placeholder for "a party the device cannot identify", the
  kasklant; the weighbridge intake books unknown vehicles on it the same way, flagged
  (``cloud.orders.automation``). A customer made from a name typed on a phone at the
  roadside would have no KvK, e-mail or address to match on (what the webshop intake has),
  so every spelling would add a duplicate to master data. The cash customer keeps master
  data clean, and the review flag keeps the order out of invoicing until the office has set
  the real customer (review is the gate before ``ready_for_invoicing``).
- **Site.** A site of that customer with the same postal code (and, if several, the one whose
  street the address names); otherwise no site, and the address is in the notes.
- **Material.** A material code of the tenant gives the material (its id where the order has
  one, its description as the text); anything else is kept as the driver's text.
- **Container.** A container number of the tenant gives the container (where the order has a
  container reference) and its type; otherwise the number is in the notes.

No weights: the message carries none, and the order gets none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.containers.models import Container
from cloud.customers.models import Customer, Site
from cloud.customers.service import cash_customer
from cloud.devices.models import Device
from cloud.fleet.models import Vehicle
from cloud.ingest.errors import DriverOrderInvalid, NotATruck
from cloud.materials.models import Material
from cloud.orders.models import Order, OrderSource
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order
from protocols import OrderRequest

log = structlog.get_logger("cloud.ingest")
NOTES_MAX = 2000
MATERIAL_MAX = 64
"""``OrderCreate.material``: the job contract's ``ShortText``."""


def source_ref(msg: OrderRequest) -> str:
    return f"driver:{msg.client_order_id}"


def record_driver_order(
    session: Session, *, device: Device, msg: OrderRequest, review_reasons: Sequence[str] = ()
) -> Order:
    """Create the order the driver made. ``review_reasons`` (e.g. a device clock ahead of ours)
    are added to the order's own."""
    if device.kind != "truck":
        raise NotATruck(
            f"device {device.id!r} is a {device.kind}: only a truck's agent makes driver orders"
        )
    tenant_id = device.tenant_id
    vehicle = _vehicle(session, device)
    reasons = [f"made by driver on {vehicle.plate if vehicle else device.id}"]
    if vehicle is None:
        reasons.append(f"truck {device.id} has no vehicle")
    notes: list[str] = []

    customer = _customer_by_number(session, tenant_id, msg.customer_number)
    if customer is None:
        customer = cash_customer(session, tenant_id=tenant_id)
        said = ", ".join(
            x
            for x in (
                f"number {msg.customer_number!r}" if msg.customer_number else None,
                f"name {msg.customer_name!r}" if msg.customer_name else None,
            )
            if x
        )
        what = "unknown customer" if msg.customer_number else "customer not identified"
        reasons.append(f"{what} (driver wrote {said}): booked on the cash customer")
    if msg.customer_name and (customer.is_cash or customer.name != msg.customer_name):
        notes.append(f"Customer (driver): {msg.customer_name}")

    site = _site(session, tenant_id, customer, msg) if not customer.is_cash else None
    place = ", ".join(x for x in (msg.address, msg.postal_code) if x)
    if place and site is None:
        notes.append(f"Address (driver): {place}")
        if not customer.is_cash:
            reasons.append(f"address not matched to a site of customer {customer.number}")

    data: dict[str, Any] = {
        "customer_id": customer.id,
        "order_type": msg.order_type,
        "site_id": site.id if site else None,
        "vehicle_id": vehicle.id if vehicle else None,
        "requested_date": msg.requested_date,
        "container_type": msg.container_type,
        "reference": msg.reference,
        "material": msg.material,
    }
    material = _material(session, tenant_id, msg.material)
    if material is not None:
        data["material"] = material.description.strip()[:MATERIAL_MAX] or msg.material
        if "material_id" in OrderCreate.model_fields:
            data["material_id"] = material.id
    container = _container(session, tenant_id, msg.container_number)
    if msg.container_number:
        if container is None:
            reasons.append(f"container {msg.container_number!r} unknown")
        if container is not None and "container_id" in OrderCreate.model_fields:
            data["container_id"] = container.id
        else:
            notes.append(f"Container (driver): {msg.container_number}")
        if container is not None and not msg.container_type:
            data["container_type"] = container.container_type
    if msg.notes:
        notes.append(msg.notes)
    data["notes"] = "\n".join(notes)[:NOTES_MAX] or None

    try:
        order_data = OrderCreate.model_validate(data)
    except ValidationError as exc:
        raise DriverOrderInvalid(f"the order cannot hold what the driver sent: {exc}") from None
    order = create_order(
        session,
        tenant_id=tenant_id,
        data=order_data,
        source=OrderSource.DRIVER.value,
        source_ref=source_ref(msg),
        by_device_id=device.id,
        review_reasons=[*reasons, *review_reasons],
        flag_customer_mismatch=True,  # a fact from the truck is flagged, never refused
    )
    log.info(
        "ingest.driver_order",
        device=device.id,
        order=order.number,
        client_order_id=str(msg.client_order_id),
        customer=customer.number,
    )
    return order


# -- matching what the driver typed (tenant scoped; a miss is None, never an error) ---------


def _key(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def _vehicle(session: Session, device: Device) -> Vehicle | None:
    if device.vehicle_id is None:
        return None
    return session.scalar(
        select(Vehicle).where(
            Vehicle.id == device.vehicle_id, Vehicle.tenant_id == device.tenant_id
        )
    )


def _customer_by_number(session: Session, tenant_id: int, number: str | None) -> Customer | None:
    if not number:
        return None
    return session.scalar(
        select(Customer).where(
            Customer.tenant_id == tenant_id,
            Customer.number == number,
            Customer.is_active.is_(True),
        )
    )


def _site(session: Session, tenant_id: int, customer: Customer, msg: OrderRequest) -> Site | None:
    if not msg.postal_code:
        return None
    postal = _key(msg.postal_code)
    candidates = [
        s
        for s in session.scalars(
            select(Site).where(
                Site.tenant_id == tenant_id,
                Site.customer_id == customer.id,
                Site.is_active.is_(True),
                Site.postal_code.is_not(None),
            )
        )
        if _key(s.postal_code or "") == postal
    ]
    if len(candidates) > 1 and msg.address:
        address = _key(msg.address)
        candidates = [s for s in candidates if s.street and _key(s.street) in address]
    return candidates[0] if len(candidates) == 1 else None


def _material(session: Session, tenant_id: int, code: str | None) -> Material | None:
    if not code:
        return None
    return session.scalar(
        select(Material).where(
            Material.tenant_id == tenant_id,
            Material.code == code,
            Material.is_active.is_(True),
        )
    )


def _container(session: Session, tenant_id: int, number: str | None) -> Container | None:
    if not number:
        return None
    return session.scalar(
        select(Container).where(
            Container.tenant_id == tenant_id,
            Container.number == number,
            Container.is_active.is_(True),
        )
    )
