"""Device fleet: status, registration and credentials, a live status stream, time series."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import AppSettings, DbSession, MissingToken, RoleRequired, require_roles
from cloud.broker.config import DEFAULT_INGEST_USERNAME
from cloud.db import transaction, utcnow
from cloud.devices import service
from cloud.devices.config import push_config
from cloud.devices.models import Device
from cloud.devices.schemas import (
    DeviceCreate,
    DeviceCredentials,
    DeviceRead,
    DeviceRegistered,
    DeviceRevoke,
    MeasurementSeries,
    PositionTrack,
)
from cloud.errors import Unauthorized
from cloud.measurements import query
from cloud.tenancy.service import Principal, authenticate

log = structlog.get_logger("cloud.api.devices")
router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

STAFF = ("planner", "administrator", "owner")
MANAGERS = ("administrator", "owner")
Staff = Annotated[Principal, Depends(require_roles(*STAFF))]
Manager = Annotated[Principal, Depends(require_roles(*MANAGERS))]
NO_STORE = {"Cache-Control": "no-store"}
KEEPALIVE_S = 15.0
_STATUS_LIST = TypeAdapter(list[DeviceRead])
Probe = tuple[tuple[Any, ...], ...]


@router.get("", response_model=list[DeviceRead])
def list_devices(session: DbSession, principal: Staff, settings: AppSettings) -> list[DeviceRead]:
    return service.device_statuses(
        session, tenant_id=principal.tenant_id, clock_skew_flag_s=settings.clock_skew_flag_s
    )


@router.post("", response_model=DeviceRegistered, status_code=status.HTTP_201_CREATED)
def register_device(
    body: DeviceCreate,
    session: DbSession,
    principal: Manager,
    settings: AppSettings,
    response: Response,
) -> DeviceRegistered:
    """Register a device. The broker password is in this response only."""
    device, password = service.add_device(
        session,
        tenant_id=principal.tenant_id,
        device_id=body.id,
        kind=body.kind,
        name=body.name,
        vehicle_id=body.vehicle_id,
        site_id=body.site_id,
        reserved={settings.mqtt_username or DEFAULT_INGEST_USERNAME},
    )
    response.headers.update(NO_STORE)
    (read,) = service.device_statuses(
        session,
        tenant_id=principal.tenant_id,
        device_id=device.id,
        clock_skew_flag_s=settings.clock_skew_flag_s,
    )
    return DeviceRegistered(
        device=read,
        credentials=DeviceCredentials(device_id=device.id, username=device.id, password=password),
    )


# Declared before /{device_id}: "stream" is reserved as a device id for this reason.
@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`devices` events"}},
)
async def stream_devices(
    request: Request,
    interval: Annotated[
        float, Query(ge=0.5, le=60, description="seconds between full status events")
    ] = 2.0,
    access_token: Annotated[
        str | None,
        Query(description="the bearer token, for EventSource (it cannot send headers)"),
    ] = None,
) -> StreamingResponse:
    """Server-sent events: a ``devices`` event with the tenant's status list at once, every
    ``interval`` seconds, and as soon as a device's presence changes (checked every second or
    faster). Ends when the client goes away or the token stops being valid."""
    token = _token(request, access_token)
    factory: sessionmaker[Session] = request.app.state.session_factory
    skew = request.app.state.settings.clock_skew_flag_s
    principal = await run_in_threadpool(_stream_principal, factory, token)
    return StreamingResponse(
        _device_events(request, factory, token, principal.tenant_id, interval, skew),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{device_id}", response_model=DeviceRead)
def get_device(
    device_id: str, session: DbSession, principal: Staff, settings: AppSettings
) -> DeviceRead:
    service.get_device(session, device_id=device_id, tenant_id=principal.tenant_id)
    (read,) = service.device_statuses(
        session,
        tenant_id=principal.tenant_id,
        device_id=device_id,
        clock_skew_flag_s=settings.clock_skew_flag_s,
    )
    return read


@router.post("/{device_id}/rotate", response_model=DeviceCredentials)
def rotate_credentials(
    device_id: str, session: DbSession, principal: Manager, response: Response
) -> DeviceCredentials:
    password = service.rotate_credentials(
        session, device_id=device_id, tenant_id=principal.tenant_id
    )
    response.headers.update(NO_STORE)
    return DeviceCredentials(device_id=device_id, username=device_id, password=password)


@router.post("/{device_id}/revoke", response_model=DeviceRead)
def revoke_device(
    device_id: str,
    body: DeviceRevoke,
    session: DbSession,
    principal: Manager,
    settings: AppSettings,
) -> DeviceRead:
    service.revoke_device(
        session, device_id=device_id, reason=body.reason, tenant_id=principal.tenant_id
    )
    (read,) = service.device_statuses(
        session,
        tenant_id=principal.tenant_id,
        device_id=device_id,
        clock_skew_flag_s=settings.clock_skew_flag_s,
    )
    return read


@router.post("/{device_id}/push-config", status_code=status.HTTP_202_ACCEPTED)
def push_device_config(device_id: str, session: DbSession, principal: Staff) -> dict[str, Any]:
    """Send the device its configuration now (stored tares for a weighbridge). It is also sent
    each time a weighbridge comes online."""
    device = service.get_device(session, device_id=device_id, tenant_id=principal.tenant_id)
    msg = push_config(session, device=device)
    return {"device_id": device.id, "revision": msg.revision, "vehicles": len(msg.vehicles)}


@router.get("/{device_id}/measurements", response_model=MeasurementSeries)
def measurements(
    device_id: str,
    session: DbSession,
    principal: Staff,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    bucket: Annotated[str, Query(description="10s, 1m, 5m, 15m, 1h or 1d")] = "1m",
    channel: Annotated[str | None, Query(max_length=32)] = None,
) -> MeasurementSeries:
    """Weights per time bucket (epoch-aligned, UTC): count, min, max, avg, last. ``to``
    defaults to now and ``from`` to 24 h before ``to``; at most 10,000 buckets."""
    service.get_device(session, device_id=device_id, tenant_id=principal.tenant_id)
    end = end or utcnow()
    start = start or end - timedelta(days=1)
    items = query.measurement_buckets(
        session,
        tenant_id=principal.tenant_id,
        device_id=device_id,
        start=start,
        end=end,
        bucket=bucket,
        channel=channel,
    )
    return MeasurementSeries(device_id=device_id, start=start, end=end, bucket=bucket, items=items)


@router.get("/{device_id}/positions", response_model=PositionTrack)
def positions(
    device_id: str,
    session: DbSession,
    principal: Staff,
    start: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    end: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=query.MAX_POSITIONS)] = 1000,
) -> PositionTrack:
    """Raw GPS points in time order; ``truncated`` says ``limit`` cut the track."""
    service.get_device(session, device_id=device_id, tenant_id=principal.tenant_id)
    end = end or utcnow()
    start = start or end - timedelta(days=1)
    items, truncated = query.position_track(
        session,
        tenant_id=principal.tenant_id,
        device_id=device_id,
        start=start,
        end=end,
        limit=limit,
    )
    return PositionTrack(
        device_id=device_id, start=start, end=end, truncated=truncated, items=items
    )


# -- the live stream --------------------------------------------------------------------------


class StreamTokenMissing(MissingToken):
    pass


def _token(request: Request, access_token: str | None) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if access_token:
        return access_token
    raise StreamTokenMissing("send 'Authorization: Bearer <token>' or '?access_token=<token>'")


def _stream_principal(factory: sessionmaker[Session], token: str) -> Principal:
    with transaction(factory) as session:
        principal = authenticate(session, token=token)
    if not principal.roles & set(STAFF):
        raise RoleRequired(f"needs one of the roles {sorted(STAFF)}")
    return principal


def _poll(
    factory: sessionmaker[Session],
    token: str,
    tenant_id: int,
    *,
    full: bool,
    last_probe: Probe | None,
    skew: int,
) -> tuple[Probe, str | None]:
    """Runs in a worker thread. Checks the token again (a revoked login ends the stream), then
    a cheap probe of the devices' presence columns; the full status list is built when asked
    or when the probe moved (every stored message moves ``last_seen_at``)."""
    with transaction(factory) as session:
        authenticate(session, token=token)
        probe: Probe = tuple(
            tuple(row)
            for row in session.execute(
                select(Device.id, Device.online, Device.last_seen_at, Device.revoked_at)
                .where(Device.tenant_id == tenant_id)
                .order_by(Device.id)
            ).all()
        )
        if not full and probe == last_probe:
            return probe, None
        statuses = service.device_statuses(
            session, tenant_id=tenant_id, now=utcnow(), clock_skew_flag_s=skew
        )
    return probe, _STATUS_LIST.dump_json(statuses).decode()


async def _device_events(
    request: Request,
    factory: sessionmaker[Session],
    token: str,
    tenant_id: int,
    interval: float,
    skew: int,
) -> AsyncIterator[str]:
    probe_every = min(interval, 1.0)
    probe: Probe | None = None
    sent: str | None = None
    next_full = 0.0
    last_write = time.monotonic()
    events = 0
    log.info("api.devices.stream_opened", tenant_id=tenant_id, interval=interval)
    try:
        yield "retry: 5000\n\n"
        while not await request.is_disconnected():
            full = time.monotonic() >= next_full
            try:
                probe, payload = await run_in_threadpool(
                    _poll, factory, token, tenant_id, full=full, last_probe=probe, skew=skew
                )
            except Unauthorized as exc:
                yield f"event: error\ndata: {type(exc).__name__}: {exc.detail}\n\n"
                return
            if full:
                next_full = time.monotonic() + interval
            if payload is not None and (full or payload != sent):
                events += 1
                sent = payload
                last_write = time.monotonic()
                yield f"event: devices\nid: {events}\ndata: {payload}\n\n"
            elif time.monotonic() - last_write >= KEEPALIVE_S:
                last_write = time.monotonic()
                yield ": keep-alive\n\n"
            await asyncio.sleep(probe_every)
    finally:
        log.info("api.devices.stream_closed", tenant_id=tenant_id, events=events)
