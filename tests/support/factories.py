"""Plain typed factory functions for tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from cloud.customers.models import Site
from cloud.customers.service import create_customer
from cloud.devices.service import create_device
from cloud.fleet.service import create_vehicle
from cloud.tenancy.service import create_tenant, create_user, issue_token
from protocols import Measurement, WeighingPass, WeighingTicket, WeightReading, encode, up_topic

T0 = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


@dataclass
class World:
    tenant_id: int
    user_id: int
    token: str
    customer_id: int
    site_id: int
    vehicle_id: int
    device_id: str
    card: str = "000414CD7E"
    plate: str = "BX-123-Z"


def create_world(
    session: Session,
    *,
    slug: str = "acme",
    device_id: str = "wb-1",
    roles: tuple[str, ...] = ("planner", "administrator"),
) -> World:
    tenant = create_tenant(session, slug=slug, name=f"{slug} B.V.")
    user = create_user(
        session,
        tenant_id=tenant.id,
        email=f"planner@{slug}.example",
        name="Planner",
        password="secret-pw",
        roles=list(roles),
    )
    token, _ = issue_token(session, user_id=user.id, ttl=timedelta(hours=1))
    customer = create_customer(session, tenant_id=tenant.id, number="1001", name=f"{slug} customer")
    site = Site(tenant_id=tenant.id, name="yard", kind="own_yard")
    session.add(site)
    session.flush()
    vehicle = create_vehicle(
        session,
        tenant_id=tenant.id,
        plate="BX-123-Z",
        customer_id=customer.id,
        rfid_card="000414CD7E",
    )
    create_device(
        session, tenant_id=tenant.id, device_id=device_id, kind="weighbridge", site_id=site.id
    )
    return World(tenant.id, user.id, token, customer.id, site.id, vehicle.id, device_id)


def ticket(
    device_id: str = "wb-1",
    *,
    seq: int = 1,
    number: str = "WB-000001",
    first: str = "32460",
    second: str = "14220",
    card: str | None = "000414CD7E",
    plate: str | None = None,
    at: datetime = T0,
    message_id: uuid.UUID | None = None,
    material: str | None = None,
) -> WeighingTicket:
    w1, w2 = Decimal(first), Decimal(second)
    gross, tare = max(w1, w2), min(w1, w2)
    return WeighingTicket(
        message_id=message_id or uuid.uuid4(),
        device_id=device_id,
        seq=seq,
        occurred_at=at + timedelta(minutes=30),
        ticket_number=number,
        instrument_id="ind-1",
        first=WeighingPass(at=at, weight=w1),
        second=WeighingPass(at=at + timedelta(minutes=25), weight=w2),
        gross=gross,
        tare=tare,
        net=gross - tare,
        tare_kind="measured",
        rfid_card=card,
        plate=plate,
        material=material,
    )


def measurement(
    device_id: str = "wb-1", *, seq: int = 1, n: int = 10, at: datetime = T0
) -> Measurement:
    return Measurement(
        message_id=uuid.uuid4(),
        device_id=device_id,
        seq=seq,
        occurred_at=at,
        readings=[
            WeightReading(
                at=at + timedelta(milliseconds=100 * i),
                channel="bridge",
                value=Decimal(1000 + i * 20),
                unit="kg",
                stable=i % 2 == 0,
                mode="gross",
            )
            for i in range(n)
        ],
    )


def incoming(msg, topic: str | None = None):  # type: ignore[no-untyped-def]
    from cloud.ingest.pipeline import Incoming

    return Incoming(topic or up_topic(msg.device_id, msg.type), encode(msg))
