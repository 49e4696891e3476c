"""One ingest batch: decode, check the sender, deduplicate, store, run the order automation.

Runs inside one transaction that the caller commits; only after the commit may the caller
acknowledge the broker and send receipts. Bad input never raises out of here: it becomes a
dead letter with its reason (bounded and rate-limited: ``cloud.ingest.deadletters``).

What each message kind may refer to, and who decides (issue 8, finding 3):

- ``measurement``, ``heartbeat``, ``status``: only the sending device itself (the topic and
  the envelope must name the same registered device, checked here);
- ``job-update``, ``pod``: an order dispatched to the sending device (``cloud.jobs.service``);
- ``weighing``: names no order; the cloud picks one at the weighbridge's site
  (``cloud.weighings.service``, ``cloud.orders.automation``);
- ``order`` (a driver-made order): names no existing order; only a device of kind ``truck``
  may send it, and the new order is on the truck's own vehicle, always flagged for review
  (``cloud.ingest.driver_orders``);
- files named in a ``pod`` or a ``weighing`` are linked only if they are the device's own and
  belong to no other order; any other file is left alone and the order flagged, the fact is
  kept (``cloud.orders.automation.link_device_document``).

A device clock ahead of ours (``occurred_at`` more than ``device_future_skew_s`` after we
received the message), decided per kind in :func:`_future_reason` and :func:`process_batch`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.devices.config import push_config
from cloud.devices.models import Device
from cloud.devices.service import load_devices, lock_devices, touch, track_seq
from cloud.errors import AppError
from cloud.ingest.bulk import claim
from cloud.ingest.deadletters import (
    UNREGISTERED,
    PendingDeadLetter,
    is_fact_topic,
    keep_dead_letters,
)
from cloud.ingest.driver_orders import record_driver_order
from cloud.ingest.models import IngestReceipt
from cloud.ingest.policy import DEFAULT_POLICY, IngestPolicy
from cloud.jobs.service import record_job_update, record_pod
from cloud.measurements.service import store_measurements
from cloud.weighings.service import record_weighing
from protocols import (
    ContractError,
    Envelope,
    Heartbeat,
    Measurement,
    Rejection,
    Status,
    TopicError,
    WeighingTicket,
    decode_up,
    parse_topic,
)

log = structlog.get_logger("cloud.ingest")
UUID_RE = re.compile(r'"message_id"\s*:\s*"([0-9a-fA-F-]{36})"')
PRESENCE = frozenset({"heartbeat", "status"})


@dataclass(slots=True)
class Incoming:
    topic: str
    payload: bytes
    received_at: datetime = field(default_factory=utcnow)
    token: Any = None
    """Opaque to the pipeline: the worker's handle for acknowledging the broker."""


@dataclass
class Outcome:
    committed: dict[str, list[UUID]] = field(default_factory=dict)
    rejected: dict[str, list[Rejection]] = field(default_factory=dict)
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    """Messages refused: dead letters kept plus those only counted (``suppressed``)."""
    suppressed: int = 0
    readings: int = 0
    pending_dead: list[PendingDeadLetter] = field(default_factory=list)
    """Refusals of this transaction, until :func:`settle_dead_letters` stores them."""

    def commit(self, device_id: str, message_id: UUID) -> None:
        self.committed.setdefault(device_id, []).append(message_id)

    def reject(self, device_id: str, message_id: UUID, reason: str) -> None:
        self.rejected.setdefault(device_id, []).append(
            Rejection(message_id=message_id, reason=reason[:2000])
        )


def dead_letter(
    session: Session,
    outcome: Outcome,
    item: Incoming,
    *,
    reason: str,
    detail: str,
    device_id: str | None = None,
    message_id: UUID | None = None,
    account: Device | None = None,
    notify: Device | None = None,
    decoded: bool = True,
) -> None:
    """Refuse a message: counted against ``account`` (the registered sender, or the shared
    bucket of unregistered ones) and, if the rate limit allows, kept as a dead letter when
    the batch is settled; rejected to ``notify`` in the receipt either way. A ``decoded``
    fact (weighing, job update, PoD) of a registered sender is kept whatever the rate."""
    if message_id is None:
        m = UUID_RE.search(item.payload[:2000].decode("utf-8", "replace"))
        if m:
            try:
                message_id = UUID(m.group(1))
            except ValueError:
                message_id = None
    if account is None and notify is not None:
        account = notify
    outcome.pending_dead.append(
        PendingDeadLetter(
            source=account.id if account is not None else UNREGISTERED,
            received_at=item.received_at,
            topic=item.topic[:300],
            device_id=device_id[:300] if device_id else None,
            message_id=str(message_id) if message_id else None,
            reason=reason[:40],
            detail=detail[:4000],
            payload=item.payload,
            fact=decoded and account is not None and is_fact_topic(item.topic),
        )
    )
    outcome.dead += 1
    if notify is not None and notify.revoked_at is None and message_id is not None:
        outcome.reject(notify.id, message_id, f"{reason}: {detail}")


def settle_dead_letters(session: Session, outcome: Outcome, policy: IngestPolicy) -> None:
    """Store the batch's refusals within the rate limit (see ``cloud.ingest.deadletters``)."""
    if outcome.pending_dead:
        _, suppressed = keep_dead_letters(session, outcome.pending_dead, policy=policy)
        outcome.suppressed += suppressed
        outcome.pending_dead = []


def _future_reason(msg: Envelope, received_at: datetime, policy: IngestPolicy) -> str | None:
    """Why the message counts as from the future, or None: its ``occurred_at`` (and, for a
    ticket, its weighing times) lie more than ``device_future_skew_s`` after reception."""
    limit = received_at + timedelta(seconds=policy.device_future_skew_s)
    latest = msg.occurred_at
    if isinstance(msg, WeighingTicket):
        latest = max(latest, msg.first.at, msg.second.at if msg.second else latest)
    if latest <= limit:
        return None
    ahead = (latest - received_at).total_seconds()
    return (
        f"device clock ahead: {msg.type} from {msg.device_id} dated {latest.isoformat()}, "
        f"{ahead:.0f} s after it was received (limit {policy.device_future_skew_s} s)"
    )


def _measurement_from_future(msg: Measurement, received_at: datetime, skew: timedelta) -> bool:
    limit = received_at + skew
    return msg.occurred_at > limit or any(r.at > limit for r in msg.readings)


@lru_cache(maxsize=65536)
def _topic_device(topic: str) -> str | None:
    """The device a topic names (cached: a fleet has a few thousand topics)."""
    try:
        return parse_topic(topic).device_id
    except TopicError:
        return None


def process_batch(
    session: Session, items: Sequence[Incoming], *, policy: IngestPolicy = DEFAULT_POLICY
) -> Outcome:
    outcome = Outcome()
    decoded: list[tuple[Incoming, Envelope]] = []
    flags: dict[UUID, list[str]] = {}
    skew = timedelta(seconds=policy.device_future_skew_s)
    topic_devices = {d for d in (_topic_device(i.topic) for i in items) if d}
    devices = load_devices(session, topic_devices)

    for item in items:
        sender = devices.get(_topic_device(item.topic) or "")
        try:
            _, msg = decode_up(item.topic, item.payload)
        except ContractError as exc:
            dead_letter(
                session,
                outcome,
                item,
                reason=exc.reason,
                detail=str(exc),
                device_id=_topic_device(item.topic),
                notify=sender,
                decoded=False,
            )
            continue
        device = devices.get(msg.device_id)
        if device is None:
            dead_letter(
                session,
                outcome,
                item,
                reason="unknown_device",
                detail=f"device {msg.device_id!r} is not registered",
                device_id=msg.device_id,
                message_id=msg.message_id,
            )
            continue
        if device.revoked_at is not None:
            dead_letter(
                session,
                outcome,
                item,
                reason="revoked_device",
                detail=f"device {msg.device_id!r} was revoked at {device.revoked_at.isoformat()}",
                device_id=msg.device_id,
                message_id=msg.message_id,
                account=device,
            )
            continue
        # A device clock ahead of ours. Measurements are refused: a reading from the future
        # would stand as the "last reading" and sit in the wrong time bucket, and no person
        # needs to see one sample. Weighing tickets, job updates and proofs of delivery are
        # facts a person must see (weights, a completed job): stored, and the order flagged
        # with the reason. Presence is taken as is: its offset is how the drift is shown
        # (``clock_offset_s``/``clock_drift`` in the device status).
        if isinstance(msg, Measurement):
            if _measurement_from_future(msg, item.received_at, skew):
                dead_letter(
                    session,
                    outcome,
                    item,
                    reason="future_timestamp",
                    detail=f"a reading lies more than {policy.device_future_skew_s} s after "
                    f"reception ({item.received_at.isoformat()})",
                    device_id=device.id,
                    message_id=msg.message_id,
                    notify=device,
                )
                continue
        elif msg.type not in PRESENCE:
            why = _future_reason(msg, item.received_at, policy)
            if why is not None:
                flags[msg.message_id] = [why]
        decoded.append((item, msg))

    # Deduplicate: within the batch first, then against everything committed before.
    seen: set[UUID] = set()
    facts: list[tuple[Incoming, Envelope]] = []
    for item, msg in decoded:
        if msg.message_id in seen:
            outcome.duplicates += 1
            continue
        seen.add(msg.message_id)
        facts.append((item, msg))
    new_ids = claim(
        session,
        [
            (
                str(m.message_id),
                m.device_id,
                devices[m.device_id].tenant_id,
                m.seq,
                m.type,
                m.occurred_at,
                i.received_at,
            )
            for i, m in facts
            if m.type not in PRESENCE
        ],
    )

    measurements: list[tuple[Device, Measurement]] = []
    latest: dict[str, tuple[Envelope, datetime]] = {}
    presence: list[tuple[Envelope, datetime]] = []
    seqs: list[tuple[str, int]] = []
    for item, msg in facts:
        device = devices[msg.device_id]
        if msg.type in PRESENCE:
            presence.append((msg, item.received_at))
            continue
        latest[device.id] = (msg, item.received_at)
        if str(msg.message_id) not in new_ids:
            outcome.duplicates += 1
            outcome.commit(device.id, msg.message_id)
            continue
        if isinstance(msg, Measurement):
            measurements.append((device, msg))
        elif not _apply(session, outcome, item, device, msg, flags.get(msg.message_id, [])):
            continue  # refused: its seq stays a gap, explained by the dead letter
        seqs.append((device.id, msg.seq))
        outcome.stored += 1
        outcome.commit(device.id, msg.message_id)
    outcome.readings += store_measurements(session, measurements)
    settle_dead_letters(session, outcome, policy)

    # The devices' own bookkeeping comes last, on rows locked and read again: the shared
    # subscription spreads one device's messages over all workers, and a read-modify-write of
    # ``last_seq``/``seq_gaps`` from a stale copy would invent gaps (or lose them). Locking
    # in id order, and only here, keeps the wait short and concurrent batches deadlock-free.
    touched = {m.device_id for m, _ in presence} | {d for d, _ in seqs} | set(latest)
    if touched:
        lock_devices(session, touched)
    for msg, received_at in presence:
        _presence(session, devices[msg.device_id], msg, received_at)
    for device_id, seq in seqs:
        track_seq(devices[device_id], seq)
    for device_id, (msg, received_at) in latest.items():
        touch(devices[device_id], occurred_at=msg.occurred_at, received_at=received_at)
    session.flush()
    return outcome


def _presence(session: Session, device: Device, msg: Envelope, received_at: datetime) -> None:
    if isinstance(msg, Heartbeat):
        device.last_seen_at = received_at
        device.online = True
        device.software_version = msg.software_version
        device.last_heartbeat = json.loads(msg.model_dump_json())
        device.clock_offset_s = round((msg.occurred_at - received_at).total_seconds())
    elif isinstance(msg, Status):
        # The retained status is always the latest one published, so it is applied as is.
        if msg.online and device.kind == "weighbridge":
            push_config(session, device=device)  # a terminal coming online gets the stored tares
        device.online = msg.online
        if msg.software_version:
            device.software_version = msg.software_version
        if msg.online:
            device.last_seen_at = received_at


def _apply(
    session: Session,
    outcome: Outcome,
    item: Incoming,
    device: Device,
    msg: Envelope,
    review_reasons: list[str],
) -> bool:
    """Run the handler of one fact in a savepoint. A fact the domain refuses (an unknown job,
    a ticket number used twice) is dead-lettered with the reason and rejected to the device;
    the rest of the batch goes on."""
    handler = HANDLERS[msg.type]
    try:
        with session.begin_nested():
            handler(session, device, msg, review_reasons)
    except (AppError, IntegrityError) as exc:
        reason = _snake(type(exc).__name__) if isinstance(exc, AppError) else "processing_error"
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:2000]
        session.execute(
            delete(IngestReceipt).where(IngestReceipt.message_id == str(msg.message_id))
        )
        dead_letter(
            session,
            outcome,
            item,
            reason=reason,
            detail=detail,
            device_id=device.id,
            message_id=msg.message_id,
            notify=device,
        )
        return False
    return True


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()[:40]


Handler = Callable[[Session, Device, Any, list[str]], Any]
HANDLERS: dict[str, Handler] = {
    "weighing": lambda s, d, m, r: record_weighing(s, device=d, ticket=m, review_reasons=r),
    "job-update": lambda s, d, m, r: record_job_update(s, device=d, msg=m, review_reasons=r),
    "pod": lambda s, d, m, r: record_pod(s, device=d, msg=m, review_reasons=r),
    "order": lambda s, d, m, r: record_driver_order(s, device=d, msg=m, review_reasons=r),
}
