"""Queue after-commit work in the caller's transaction; deliver it later, at least once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import transaction, utcnow
from cloud.outbox.models import OutboxJob

MQTT_PUBLISH = "mqtt_publish"


def enqueue(
    session: Session, *, tenant_id: int, kind: str, target: str, payload: bytes
) -> OutboxJob:
    job = OutboxJob(tenant_id=tenant_id, kind=kind, target=target, payload=payload)
    session.add(job)
    session.flush()
    return job


def deliver_pending(
    factory: sessionmaker[Session],
    *,
    kind: str,
    send: Callable[[OutboxJob], None],
    limit: int = 100,
) -> int:
    """Send pending jobs of one kind, oldest first; a job is done only when ``send`` returned.
    Several deliverers may run: rows are locked (``SKIP LOCKED`` on PostgreSQL)."""
    done = 0
    with transaction(factory) as session:
        stmt = (
            select(OutboxJob)
            .where(OutboxJob.kind == kind, OutboxJob.done_at.is_(None))
            .order_by(OutboxJob.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        jobs: Sequence[OutboxJob] = session.scalars(stmt).all()
        for job in jobs:
            job.attempts += 1
            try:
                send(job)
            except Exception as exc:  # noqa: BLE001 - kept for the next round, with the reason
                job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                continue
            job.done_at = utcnow()
            job.last_error = None
            done += 1
    return done
