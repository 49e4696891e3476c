"""Retention for the time series (``measurements`` and ``positions``).

On TimescaleDB whole chunks are dropped (``drop_chunks``): cheap, no table bloat, no vacuum.
A chunk (1 day, see migration 0002) goes only when *all* its rows are older than the cutoff,
so up to one chunk more than ``older_than`` stays. Elsewhere (SQLite, PostgreSQL without the
extension) the old rows are deleted. Weighings, orders and their documents are not time series
and are never touched here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from sqlalchemy import Connection, Engine, delete, text

from cloud.db import utcnow
from cloud.measurements.models import Measurement, Position

log = structlog.get_logger("cloud.measurements")

TABLES = (Measurement, Position)
MIN_AGE = timedelta(days=1)


class RetentionTooShort(ValueError):
    pass


def apply_retention(engine: Engine, *, older_than: timedelta, now: datetime | None = None) -> int:
    """Remove readings older than ``now - older_than``. Returns what was removed: chunks on
    TimescaleDB, rows otherwise (see :func:`retention_unit`)."""
    if older_than < MIN_AGE:
        raise RetentionTooShort(f"older_than must be at least {MIN_AGE} (got {older_than})")
    cutoff = (now or utcnow()) - older_than
    removed = 0
    with engine.begin() as conn:
        hypertables = _hypertables(conn)
        for model in TABLES:
            table = model.__tablename__
            if table in hypertables:
                dropped = conn.execute(
                    text("SELECT drop_chunks(CAST(:table AS regclass), older_than => :cutoff)"),
                    {"table": table, "cutoff": cutoff},
                ).all()
                n = len(dropped)
            else:
                n = conn.execute(delete(model).where(model.time < cutoff)).rowcount or 0
            log.info("measurements.retention", table=table, cutoff=cutoff.isoformat(), removed=n)
            removed += n
    return removed


def retention_unit(engine: Engine) -> str:
    with engine.connect() as conn:
        return "chunks" if _hypertables(conn) else "rows"


def _hypertables(conn: Connection) -> set[str]:
    if conn.dialect.name != "postgresql":
        return set()
    installed = conn.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")
    ).scalar()
    if not installed:
        return set()
    return set(
        conn.execute(
            text("SELECT hypertable_name FROM timescaledb_information.hypertables")
        ).scalars()
    )
