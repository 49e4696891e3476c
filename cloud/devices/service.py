from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.devices.models import Device
from cloud.errors import Conflict, NotFound
from protocols import InvalidDeviceId, validate_device_id


class DeviceNotFound(NotFound):
    pass


class DeviceIdInvalid(Conflict):
    status_code = 422


def create_device(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    kind: str,
    name: str | None = None,
    vehicle_id: int | None = None,
    site_id: int | None = None,
    credential_hash: str | None = None,
) -> Device:
    try:
        validate_device_id(device_id)
    except InvalidDeviceId as exc:
        raise DeviceIdInvalid(str(exc)) from None
    if kind not in ("weighbridge", "truck"):
        raise DeviceIdInvalid(f"device kind {kind!r} must be 'weighbridge' or 'truck'")
    if session.get(Device, device_id) is not None:
        raise Conflict(f"device {device_id!r} exists")
    device = Device(
        id=device_id,
        tenant_id=tenant_id,
        kind=kind,
        name=name,
        vehicle_id=vehicle_id,
        site_id=site_id,
        credential_hash=credential_hash,
    )
    session.add(device)
    session.flush()
    return device


def load_devices(session: Session, ids: Iterable[str]) -> dict[str, Device]:
    ids = set(ids)
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))}


def touch(device: Device, *, seq: int | None, occurred_at: datetime, received_at: datetime) -> None:
    """Bookkeeping after a message from the device: last seen, highest seq, clock offset."""
    device.last_seen_at = received_at
    device.online = True
    if seq is not None and (device.last_seq is None or seq > device.last_seq):
        device.last_seq = seq
    device.clock_offset_s = round((occurred_at - received_at).total_seconds())
