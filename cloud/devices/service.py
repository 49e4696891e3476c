"""The device registry: registration, broker credentials, revocation and the status view.

Services never commit; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.customers.models import Site
from cloud.db import utcnow
from cloud.devices.credentials import hash_password, new_password
from cloud.devices.models import DeadLetterCounter, Device
from cloud.devices.schemas import (
    DeadLetterCounts,
    DeviceRead,
    LastReading,
    OutboxRead,
    PortRead,
    Presence,
)
from cloud.errors import AppError, Conflict, NotFound
from cloud.fleet.models import Vehicle
from cloud.references import resolve
from protocols import InvalidDeviceId, validate_device_id

log = structlog.get_logger("cloud.devices")

KINDS = ("weighbridge", "truck")
RESERVED_IDS = frozenset({"oms-ingest", "stream"})
"""Never device ids: the default ingest broker account (a device with that name would be the
same client, with the same role, in the broker's ``dynsec.json``) and ``stream``, a path
segment of the device API."""
STALE_AFTER = timedelta(seconds=120)
"""A device that said it is online but has sent nothing for this long is shown offline. The
heartbeat carries no interval; agents send one every 30 s, so this is about 4 missed."""


class DeviceNotFound(NotFound):
    pass


class DeviceIdInvalid(Conflict):
    """Refused at registration: not ``[a-z0-9-]`` (wildcards ``+``/``#``, ``/``, upper case,
    spaces...), too long, or reserved."""

    status_code = 422


class DeviceKindInvalid(AppError):
    status_code = 422


class DeviceExists(Conflict):
    pass


class DeviceRevoked(Conflict):
    pass


class DeviceLinkInvalid(AppError):
    """The command line named a tenant or plate that does not exist. (Ids in a payload are
    resolved with ``cloud.references.resolve``: ``UnknownReference`` naming the field.)"""

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
    reserved: Collection[str] = (),
) -> Device:
    try:
        validate_device_id(device_id)
    except InvalidDeviceId as exc:
        raise DeviceIdInvalid(str(exc)) from None
    if device_id in RESERVED_IDS or device_id in reserved:
        raise DeviceIdInvalid(f"device id {device_id!r} is reserved")
    if kind not in KINDS:
        raise DeviceKindInvalid(f"device kind {kind!r} must be 'weighbridge' or 'truck'")
    # Within the caller's tenant: another tenant's vehicle or site is reported exactly like
    # one that does not exist (422, naming the field).
    if vehicle_id is not None:
        resolve(session, Vehicle, field="vehicle_id", id_=vehicle_id, tenant_id=tenant_id)
    if site_id is not None:
        resolve(session, Site, field="site_id", id_=site_id, tenant_id=tenant_id)
    if session.get(Device, device_id) is not None:
        # Ids are global (they are topic levels), so this also answers for other tenants.
        raise DeviceExists(f"device {device_id!r} exists")
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


def add_device(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    kind: str,
    vehicle_id: int | None = None,
    site_id: int | None = None,
    name: str | None = None,
    reserved: Collection[str] = (),
) -> tuple[Device, str]:
    """Register a device with a new broker password. The password is returned once and only
    its hash is stored; ``reserved`` adds names that must stay free (the configured ingest
    account)."""
    password = new_password()
    device = create_device(
        session,
        tenant_id=tenant_id,
        device_id=device_id,
        kind=kind,
        name=name,
        vehicle_id=vehicle_id,
        site_id=site_id,
        credential_hash=hash_password(password),
        reserved=reserved,
    )
    log.info("devices.registered", device_id=device_id, tenant_id=tenant_id, kind=kind)
    return device, password


def get_device(session: Session, *, device_id: str, tenant_id: int | None = None) -> Device:
    """The device, or :class:`DeviceNotFound` (also when it belongs to another tenant)."""
    device = session.get(Device, device_id)
    if device is None or (tenant_id is not None and device.tenant_id != tenant_id):
        raise DeviceNotFound(f"device {device_id!r} not found")
    return device


def rotate_credentials(session: Session, *, device_id: str, tenant_id: int | None = None) -> str:
    """A new password for the device. The broker learns it from its dynamic-security file
    (``dynsec.json``), written by ``oms broker config``: the old password works until that has
    been run and the broker restarted (Mosquitto reads the file only at start; a reload is not
    enough)."""
    device = get_device(session, device_id=device_id, tenant_id=tenant_id)
    if device.revoked_at is not None:
        raise DeviceRevoked(f"device {device_id!r} is revoked; register a new id")
    password = new_password()
    device.credential_hash = hash_password(password)
    session.flush()
    log.info("devices.credentials_rotated", device_id=device_id)
    return password


def revoke_device(
    session: Session, *, device_id: str, reason: str, tenant_id: int | None = None
) -> Device:
    """Revoke for good: the device leaves the broker's dynamic-security file (``dynsec.json``)
    the next time ``oms broker config`` writes it, and is shut out once the broker has been
    restarted with it (a reload is not enough; until then it may stay connected, and ingest
    dead-letters what it sends as ``revoked_device``). Its hash is dropped too, so nothing can
    re-enable it by mistake. Revoking again is a no-op (the first time stands)."""
    device = get_device(session, device_id=device_id, tenant_id=tenant_id)
    if device.revoked_at is not None:
        return device
    device.revoked_at = utcnow()
    device.revoked_reason = reason[:200]
    device.credential_hash = None
    device.online = False
    session.flush()
    log.warning("devices.revoked", device_id=device_id, tenant_id=device.tenant_id, reason=reason)
    return device


def list_devices(session: Session, *, tenant_id: int | None = None) -> list[Device]:
    stmt = select(Device).order_by(Device.tenant_id, Device.id)
    if tenant_id is not None:
        stmt = stmt.where(Device.tenant_id == tenant_id)
    return list(session.scalars(stmt))


def load_devices(session: Session, ids: Iterable[str]) -> dict[str, Device]:
    ids = set(ids)
    if not ids:
        return {}
    return {d.id: d for d in session.scalars(select(Device).where(Device.id.in_(ids)))}


def lock_devices(session: Session, ids: Iterable[str]) -> None:
    """Lock the devices' rows until the transaction ends and load their current state into
    the session's objects (PostgreSQL ``FOR UPDATE``; SQLite has one writer anyway). Rows are
    locked in id order, so two transactions locking overlapping sets cannot deadlock."""
    session.scalars(
        select(Device)
        .where(Device.id.in_(sorted(set(ids))))
        .order_by(Device.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def touch(device: Device, *, occurred_at: datetime, received_at: datetime) -> None:
    """Bookkeeping after a message from the device: last seen, clock offset."""
    if device.last_seen_at is None or received_at > device.last_seen_at:
        device.last_seen_at = received_at
    device.online = True
    device.clock_offset_s = round((occurred_at - received_at).total_seconds())


MAX_GAPS = 100


def track_seq(device: Device, seq: int) -> None:
    """Record a new fact's ``seq``: a jump past ``last_seq + 1`` opens a gap, a late arrival
    (a resend after a reconnect) closes the part of a gap it fills. Open gaps are seqs the
    device used that the cloud never committed: lost, or refused and dead-lettered."""
    last = device.last_seq
    if last is not None and seq == last + 1:  # the usual case: next in line, nothing to track
        device.last_seq = seq
        return
    gaps = [list(g) for g in (device.seq_gaps or [])]
    if last is None or seq > last:
        start = 1 if last is None else last + 1
        if seq > start:
            gaps.append([start, seq - 1])
        device.last_seq = seq
    else:
        for i, (first, end) in enumerate(gaps):
            if first <= seq <= end:
                parts = [[first, seq - 1], [seq + 1, end]]
                gaps[i : i + 1] = [p for p in parts if p[0] <= p[1]]
                break
        else:
            return
    device.seq_gaps = gaps[-MAX_GAPS:]


# -- status view ------------------------------------------------------------------------------


def device_statuses(
    session: Session,
    *,
    tenant_id: int,
    device_id: str | None = None,
    now: datetime | None = None,
    clock_skew_flag_s: int = 300,
) -> list[DeviceRead]:
    """Status of the tenant's devices (or one): presence, heartbeat contents and the last
    reading per channel, and the counts of refused messages. Three queries whatever the number
    of devices."""
    from cloud.measurements.query import last_readings

    stmt = (
        select(Device, Vehicle.plate, Site.name)
        .outerjoin(Vehicle, Vehicle.id == Device.vehicle_id)
        .outerjoin(Site, Site.id == Device.site_id)
        .where(Device.tenant_id == tenant_id)
        .order_by(Device.id)
    )
    if device_id is not None:
        stmt = stmt.where(Device.id == device_id)
    rows = session.execute(stmt).all()
    now = now or utcnow()
    ids = [d.id for d, _, _ in rows]
    readings = last_readings(session, tenant_id=tenant_id, device_ids=ids, now=now)
    refused = _dead_letter_counts(session, ids)
    return [
        to_read(
            device,
            vehicle_plate=plate,
            site_name=site_name,
            readings=readings.get(device.id, []),
            now=now,
            clock_skew_flag_s=clock_skew_flag_s,
            dead_letters=refused.get(device.id),
        )
        for device, plate, site_name in rows
    ]


def _dead_letter_counts(session: Session, device_ids: list[str]) -> dict[str, DeadLetterCounts]:
    if not device_ids:
        return {}
    return {
        c.source: DeadLetterCounts(
            kept=c.kept,
            suppressed=c.suppressed,
            last_kept_at=c.last_kept_at,
            last_suppressed_at=c.last_suppressed_at,
        )
        for c in session.scalars(
            select(DeadLetterCounter).where(DeadLetterCounter.source.in_(device_ids))
        )
    }


def presence(device: Device, *, now: datetime) -> Presence:
    """``online``, ``offline`` (said so, or its last will did), ``silent`` (said online but
    quiet for longer than :data:`STALE_AFTER`), ``revoked`` or ``never_seen``."""
    if device.revoked_at is not None:
        return "revoked"
    if device.last_seen_at is None:
        return "never_seen"
    if not device.online:
        return "offline"
    if now - device.last_seen_at > STALE_AFTER:
        return "silent"
    return "online"


def to_read(
    device: Device,
    *,
    vehicle_plate: str | None,
    site_name: str | None,
    readings: list[LastReading],
    now: datetime,
    clock_skew_flag_s: int,
    dead_letters: DeadLetterCounts | None = None,
) -> DeviceRead:
    hb: dict[str, Any] = device.last_heartbeat or {}
    state = presence(device, now=now)
    offset = device.clock_offset_s
    outbox = None
    if "outbox_backlog" in hb:
        outbox = OutboxRead(
            backlog=hb.get("outbox_backlog", 0),
            bytes=hb.get("outbox_bytes", 0),
            budget_bytes=hb.get("outbox_budget_bytes", 0),
            alarm=bool(hb.get("outbox_alarm", False)),
            thinned_measurements=hb.get("thinned_measurements", 0),
        )
    return DeviceRead(
        id=device.id,
        kind=device.kind,
        name=device.name,
        vehicle_id=device.vehicle_id,
        vehicle_plate=vehicle_plate,
        site_id=device.site_id,
        site_name=site_name,
        state=state,
        online=state == "online",
        reported_online=device.online,
        last_seen_at=device.last_seen_at,
        software_version=device.software_version,
        last_seq=device.last_seq,
        seq_gaps=[(a, b) for a, b in (device.seq_gaps or [])],
        missing_seqs=sum(b - a + 1 for a, b in (device.seq_gaps or [])),
        clock_offset_s=offset,
        clock_drift=offset is not None and abs(offset) > clock_skew_flag_s,
        heartbeat_at=hb.get("occurred_at"),
        uptime_s=hb.get("uptime_s"),
        outbox=outbox,
        ports=[PortRead.model_validate(p) for p in hb.get("ports", [])],
        last_readings=readings,
        dead_letters=dead_letters or DeadLetterCounts(),
        revoked_at=device.revoked_at,
        created_at=device.created_at,
    )
