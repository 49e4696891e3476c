"""Run a batch in one transaction; isolate a poison message without losing the others."""

from __future__ import annotations

from collections.abc import Sequence

import structlog
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import transaction
from cloud.devices.service import load_devices
from cloud.ingest.pipeline import (
    Incoming,
    Outcome,
    _topic_device,
    dead_letter,
    process_batch,
    settle_dead_letters,
)
from cloud.ingest.policy import DEFAULT_POLICY, IngestPolicy

log = structlog.get_logger("cloud.ingest")


def is_transient(exc: BaseException) -> bool:
    """The database is unreachable or busy: retry the batch later, acknowledge nothing."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError))


def _merge(into: Outcome, other: Outcome) -> None:
    for dev, ids in other.committed.items():
        into.committed.setdefault(dev, []).extend(ids)
    for dev, rej in other.rejected.items():
        into.rejected.setdefault(dev, []).extend(rej)
    into.stored += other.stored
    into.duplicates += other.duplicates
    into.dead += other.dead
    into.suppressed += other.suppressed
    into.readings += other.readings


def ingest_batch(
    factory: sessionmaker[Session],
    items: Sequence[Incoming],
    *,
    policy: IngestPolicy = DEFAULT_POLICY,
) -> Outcome:
    """Commit the batch, or raise a transient database error (nothing committed for sure).

    If a message makes the batch fail for any other reason, the batch is redone one message at
    a time and the failing message goes to the dead-letter table with the error."""
    try:
        with transaction(factory) as session:
            return process_batch(session, items, policy=policy)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.warning("ingest.batch_failed", error=repr(exc)[:500], size=len(items))
    total = Outcome()
    for item in items:
        try:
            with transaction(factory) as session:
                _merge(total, process_batch(session, [item], policy=policy))
        except Exception as exc:
            if is_transient(exc):
                raise
            with transaction(factory) as session:
                one = Outcome()
                sender = load_devices(session, [_topic_device(item.topic) or ""]).get(
                    _topic_device(item.topic) or ""
                )
                dead_letter(
                    session,
                    one,
                    item,
                    reason="processing_error",
                    detail=f"{type(exc).__name__}: {exc}"[:4000],
                    device_id=_topic_device(item.topic),
                    notify=sender,
                )
                settle_dead_letters(session, one, policy)
                _merge(total, one)
    return total
