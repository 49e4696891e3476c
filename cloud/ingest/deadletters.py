"""Dead letters: what ingest refused, with the reason, kept within bounds.

- A row keeps the first ``dead_letter_payload_prefix_bytes`` of the payload, with the full
  size and its sha256: enough to tell what it was and to recognise a repeat, not a store for
  whatever a device cares to send.
- Per source, at most ``dead_letter_rate_per_device`` rows are kept per
  ``dead_letter_rate_window_s`` (a fixed window); beyond that a refused message is only
  counted. The source is the registered device the message came from, or one shared bucket
  (:data:`~cloud.devices.models.UNREGISTERED`) for all senders without a device row, so a
  flood from made-up ids is bounded as a whole. Facts are never suppressed: a refused
  ``weighing``, ``job-update``, ``pod`` or ``order`` from a registered device
  (``PendingDeadLetter.fact``, see :func:`is_fact_topic`) is always kept, and counted as kept;
  the limit applies to measurements, presence, and payloads that could not be decoded or came
  from unknown ids, which is what a flood is made of. The counters (:class:`DeadLetterCounter`)
  are part of the device status. A suppressed message is still rejected to its device.
- Retention: :func:`purge_dead_letters` deletes rows older than ``dead_letter_retention_days``
  (``oms dead-letters purge``; the ingest worker also runs it every hour).

Refusals are collected during a batch and settled at its end, with the counter rows locked in
source order (before the device rows, which are locked in id order after them), so concurrent
workers neither lose counts nor deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cloud.db import utcnow
from cloud.devices.models import UNREGISTERED, DeadLetterCounter
from cloud.ingest.models import DeadLetter
from cloud.ingest.policy import IngestPolicy
from protocols import TopicError, UpStream, parse_topic

log = structlog.get_logger("cloud.ingest")
DETAIL_MAX = 4000

FACT_STREAMS = frozenset({UpStream.WEIGHING, UpStream.JOB_UPDATE, UpStream.POD, UpStream.ORDER})
"""Streams whose messages are facts a person must be able to find (a ticket, a finished job,
an order the driver made)."""

__all__ = [
    "FACT_STREAMS",
    "UNREGISTERED",
    "PendingDeadLetter",
    "is_fact_topic",
    "keep_dead_letters",
    "purge_dead_letters",
]


@dataclass(slots=True)
class PendingDeadLetter:
    """A refused message, before the rate limit decided whether its row is kept."""

    source: str
    received_at: datetime
    topic: str
    device_id: str | None
    message_id: str | None
    reason: str
    detail: str
    payload: bytes
    fact: bool = False
    """A decoded weighing, job update or proof of delivery of a registered device: its row is
    kept whatever the rate (see :func:`is_fact_topic`)."""


def is_fact_topic(topic: str) -> bool:
    """The topic's stream (its last level) carries facts: weighings, job updates, PoDs."""
    try:
        return parse_topic(topic).stream in FACT_STREAMS
    except TopicError:
        return False


def _ensure_counters(session: Session, sources: Sequence[str], at: datetime) -> None:
    """Create missing counter rows without racing a concurrent worker (insert, ignore a
    conflict; per dialect because the generic INSERT has no ON CONFLICT)."""
    rows = [
        {
            "source": s,
            "window_start": at,
            "window_kept": 0,
            "window_suppressed": 0,
            "kept": 0,
            "suppressed": 0,
        }
        for s in sources
    ]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        session.execute(postgresql.insert(DeadLetterCounter).values(rows).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects import sqlite

        session.execute(sqlite.insert(DeadLetterCounter).values(rows).on_conflict_do_nothing())


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def keep_dead_letters(
    session: Session, pending: Sequence[PendingDeadLetter], *, policy: IngestPolicy
) -> tuple[int, int]:
    """Store the refused messages the rate limit allows, count the rest; (kept, suppressed)."""
    if not pending:
        return 0, 0
    sources = sorted({p.source for p in pending})
    _ensure_counters(session, sources, min(p.received_at for p in pending))
    counters = {
        c.source: c
        for c in session.scalars(
            select(DeadLetterCounter)
            .where(DeadLetterCounter.source.in_(sources))
            .order_by(DeadLetterCounter.source)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    }
    window = timedelta(seconds=policy.dead_letter_rate_window_s)
    prefix = policy.dead_letter_payload_prefix_bytes
    kept = suppressed = 0
    for p in pending:
        c = counters[p.source]
        if p.received_at >= c.window_start + window:
            c.window_start = p.received_at
            c.window_kept = 0
            c.window_suppressed = 0
        if p.fact or c.window_kept < policy.dead_letter_rate_per_device:
            c.window_kept += 1
            c.kept += 1
            c.last_kept_at = _later(c.last_kept_at, p.received_at)
            session.add(
                DeadLetter(
                    received_at=p.received_at,
                    topic=p.topic,
                    device_id=p.device_id,
                    message_id=p.message_id,
                    reason=p.reason,
                    detail=p.detail,
                    payload=p.payload[:prefix],
                    payload_size=len(p.payload),
                    payload_sha256=hashlib.sha256(p.payload).hexdigest(),
                )
            )
            kept += 1
            log.warning(
                "ingest.dead_letter",
                reason=p.reason,
                detail=p.detail[:300],
                topic=p.topic,
                source=p.source,
                size=len(p.payload),
            )
        else:
            c.window_suppressed += 1
            c.suppressed += 1
            c.last_suppressed_at = _later(c.last_suppressed_at, p.received_at)
            suppressed += 1
            if c.window_suppressed == 1:  # once per window, not once per message of a flood
                log.warning(
                    "ingest.dead_letters_suppressed",
                    source=p.source,
                    rate=policy.dead_letter_rate_per_device,
                    window_s=policy.dead_letter_rate_window_s,
                )
    session.flush()
    return kept, suppressed


def purge_dead_letters(
    session: Session, *, older_than_days: int, now: datetime | None = None
) -> int:
    """Delete dead letters received more than ``older_than_days`` ago; how many went."""
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    result = session.execute(delete(DeadLetter).where(DeadLetter.received_at < cutoff))
    n = int(getattr(result, "rowcount", 0) or 0)
    if n:
        log.info("ingest.dead_letters_purged", rows=n, before=cutoff.isoformat())
    return n
