"""What a device needs to work offline, pushed to it as a ``DeviceConfig`` (through the outbox,
after commit): for a weighbridge, the stored tares of the tenant's vehicles. Pushed whenever
the device comes online, and on request."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.devices.models import Device
from cloud.fleet.models import Vehicle
from cloud.outbox.service import MQTT_PUBLISH, enqueue
from protocols import DeviceConfig, DownStream, VehicleTare, down_topic, encode


def build_config(session: Session, *, device: Device) -> DeviceConfig:
    today = utcnow().date()
    vehicles = session.scalars(
        select(Vehicle)
        .where(Vehicle.tenant_id == device.tenant_id, Vehicle.stored_tare_kg.is_not(None))
        .order_by(Vehicle.id)
    )
    tares = [
        VehicleTare(
            plate=v.plate,
            rfid_card=v.rfid_card,
            stored_tare=v.stored_tare_kg,
            unit="kg",
            valid_until=v.stored_tare_valid_until,
        )
        for v in vehicles
        if v.stored_tare_kg is not None
        and (v.stored_tare_valid_until is None or v.stored_tare_valid_until >= today)
    ]
    device.down_seq += 1
    return DeviceConfig(
        message_id=uuid.uuid4(),
        device_id=device.id,
        seq=device.down_seq,
        occurred_at=utcnow(),
        revision=device.down_seq,
        vehicles=tares,
    )


def push_config(session: Session, *, device: Device) -> DeviceConfig:
    """Queue the device's configuration; published after the commit."""
    msg = build_config(session, device=device)
    enqueue(
        session,
        tenant_id=device.tenant_id,
        kind=MQTT_PUBLISH,
        target=down_topic(device.id, DownStream.CONFIG),
        payload=encode(msg),
    )
    return msg
