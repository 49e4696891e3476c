"""Device fleet: status, registration and credentials, a live status stream, time series."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from typing import Annotated, Any

import anyio
import anyio.to_thread
import structlog
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Receive, Scope, Send

from cloud.api.deps import AppSettings, DbSession, MissingToken, allowed
from cloud.api.params import DeviceIdPath
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
from cloud.errors import TooManyRequests, Unauthorized
from cloud.measurements import query
from cloud.permissions import Action, require
from cloud.tenancy.service import Principal, authenticate
from cloud.types import BoundedDatetime

log = structlog.get_logger("cloud.api.devices")
router = APIRouter(prefix="/api/v1/devices", tags=["devices"])

Reader = Annotated[Principal, Depends(allowed(Action.DEVICE_READ))]
Configurer = Annotated[Principal, Depends(allowed(Action.DEVICE_CONFIG))]
Manager = Annotated[Principal, Depends(allowed(Action.DEVICE_MANAGE))]
NO_STORE = {"Cache-Control": "no-store"}
KEEPALIVE_S = 15.0
POLL_THREADS = 2
"""Worker threads (and so database connections) all of a process's streams share."""
_STATUS_LIST = TypeAdapter(list[DeviceRead])
Probe = tuple[tuple[Any, ...], ...]


@router.get("", response_model=list[DeviceRead])
def list_devices(session: DbSession, principal: Reader, settings: AppSettings) -> list[DeviceRead]:
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
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "`devices` events"},
        429: {"description": "too many open streams for this user or tenant"},
    },
)
async def stream_devices(
    request: Request,
    interval: Annotated[
        float, Query(ge=0.5, le=60, description="seconds between full status events")
    ] = 2.0,
) -> StreamingResponse:
    """Server-sent events: a ``devices`` event with the tenant's status list at once, every
    ``interval`` seconds, and as soon as a device's presence changes (checked every second or
    faster). Ends when the client goes away or the token stops being valid.

    The token goes in the ``Authorization`` header only, never in the URL (URLs end up in
    access logs): browsers read the stream with ``fetch()`` and a ``ReadableStream`` instead of
    ``EventSource``, which cannot send headers.

    Open streams are capped per user (``sse_max_streams_per_user``) and per tenant
    (``sse_max_streams_per_tenant``); the caps count the streams of this API process, so N
    processes behind a load balancer allow up to N times as many. All streams of a process poll
    the database through ``POLL_THREADS`` worker threads of their own, so they can never take
    the threads and connections that other requests need."""
    token = _token(request)
    factory: sessionmaker[Session] = request.app.state.session_factory
    slots: StreamSlots = request.app.state.stream_slots
    skew = request.app.state.settings.clock_skew_flag_s
    principal = await slots.run(_stream_principal, factory, token)
    slot = slots.acquire(principal)
    return _SlotStreamingResponse(
        _device_events(request, slots, slot, token, principal.tenant_id, interval, skew),
        slot=slot,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{device_id}", response_model=DeviceRead)
def get_device(
    device_id: DeviceIdPath, session: DbSession, principal: Reader, settings: AppSettings
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
    device_id: DeviceIdPath, session: DbSession, principal: Manager, response: Response
) -> DeviceCredentials:
    password = service.rotate_credentials(
        session, device_id=device_id, tenant_id=principal.tenant_id
    )
    response.headers.update(NO_STORE)
    return DeviceCredentials(device_id=device_id, username=device_id, password=password)


@router.post("/{device_id}/revoke", response_model=DeviceRead)
def revoke_device(
    device_id: DeviceIdPath,
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
def push_device_config(
    device_id: DeviceIdPath,
    session: DbSession,
    principal: Configurer,  # a planner may resend what the device should have anyway
) -> dict[str, Any]:
    """Send the device its configuration now (stored tares for a weighbridge). It is also sent
    each time a weighbridge comes online."""
    device = service.get_device(session, device_id=device_id, tenant_id=principal.tenant_id)
    msg = push_config(session, device=device)
    return {"device_id": device.id, "revision": msg.revision, "vehicles": len(msg.vehicles)}


@router.get("/{device_id}/measurements", response_model=MeasurementSeries)
def measurements(
    device_id: DeviceIdPath,
    session: DbSession,
    principal: Reader,
    start: Annotated[BoundedDatetime | None, Query(alias="from")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to")] = None,
    bucket: Annotated[str, Query(max_length=8, description="10s, 1m, 5m, 15m, 1h or 1d")] = "1m",
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
    device_id: DeviceIdPath,
    session: DbSession,
    principal: Reader,
    start: Annotated[BoundedDatetime | None, Query(alias="from")] = None,
    end: Annotated[BoundedDatetime | None, Query(alias="to")] = None,
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


class TooManyStreams(TooManyRequests):
    pass


class StreamSlot:
    """One open stream's place in the counts; released once, whichever way the stream ends."""

    def __init__(self, slots: StreamSlots, user_id: int, tenant_id: int) -> None:
        self._slots = slots
        self.user_id = user_id
        self.tenant_id = tenant_id
        self._released = False

    def release(self) -> None:
        with self._slots.lock:
            if self._released:
                return
            self._released = True
            self._slots.users[self.user_id] -= 1
            self._slots.tenants[self.tenant_id] -= 1
            self._slots.users += Counter()  # drops the zeros
            self._slots.tenants += Counter()


class StreamSlots:
    """The open streams of this API process per user and per tenant, and the worker threads
    they share (``POLL_THREADS``, so streams cannot crowd out request handling)."""

    def __init__(self, *, per_user: int, per_tenant: int) -> None:
        self.per_user = per_user
        self.per_tenant = per_tenant
        self.lock = threading.Lock()
        self.users: Counter[int] = Counter()
        self.tenants: Counter[int] = Counter()
        self._limiter: anyio.CapacityLimiter | None = None

    def acquire(self, principal: Principal) -> StreamSlot:
        with self.lock:
            if self.users[principal.user_id] >= self.per_user:
                raise TooManyStreams(
                    f"at most {self.per_user} open device streams per user; close one first"
                )
            if self.tenants[principal.tenant_id] >= self.per_tenant:
                raise TooManyStreams(
                    f"at most {self.per_tenant} open device streams per tenant; close one first"
                )
            self.users[principal.user_id] += 1
            self.tenants[principal.tenant_id] += 1
        return StreamSlot(self, principal.user_id, principal.tenant_id)

    def open(self) -> int:
        with self.lock:
            return sum(self.users.values())

    async def run(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """``func`` in one of the streams' own worker threads."""
        if self._limiter is None:  # made in the event loop, on first use
            self._limiter = anyio.CapacityLimiter(POLL_THREADS)
        return await anyio.to_thread.run_sync(partial(func, *args, **kwargs), limiter=self._limiter)


class _SlotStreamingResponse(StreamingResponse):
    """Releases the stream's slot when the response ends for any reason: the client went away,
    the token was revoked, or something raised (even before the body started)."""

    def __init__(self, content: AsyncIterator[str], *, slot: StreamSlot, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.slot.release()


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    raise StreamTokenMissing("send 'Authorization: Bearer <token>'")


def _stream_principal(factory: sessionmaker[Session], token: str) -> Principal:
    with transaction(factory) as session:
        principal = authenticate(session, token=token)
    require(principal, Action.FLEET_LIVE)
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
    slots: StreamSlots,
    slot: StreamSlot,
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
    factory: sessionmaker[Session] = request.app.state.session_factory
    log.info(
        "api.devices.stream_opened", tenant_id=tenant_id, user_id=slot.user_id, interval=interval
    )
    try:
        yield "retry: 5000\n\n"
        while not await request.is_disconnected():
            full = time.monotonic() >= next_full
            try:
                probe, payload = await slots.run(
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
        slot.release()
        log.info(
            "api.devices.stream_closed", tenant_id=tenant_id, user_id=slot.user_id, events=events
        )
