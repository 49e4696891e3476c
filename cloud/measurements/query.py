"""Reading the time series: bucketed weights, raw positions and the last reading per channel.

Two implementations where the dialects differ, tested to give the same answer:

- PostgreSQL: ``time_bucket`` and ``last()`` from TimescaleDB (plain epoch arithmetic when the
  extension is missing), aggregated in the database.
- SQLite: rows streamed in time order and aggregated in Python. SQLite stores our exact
  decimals as text (see ``cloud.db.ExactDecimal``), so SQL ``min``/``sum`` there would compare
  strings or add floats.

Buckets are aligned to the Unix epoch in UTC. TimescaleDB aligns to 2000-01-03 00:00 UTC,
which is the same for every width in :data:`BUCKETS` because each divides a day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, literal_column, select, text, type_coerce
from sqlalchemy.orm import Session

from cloud.db import UTCDateTime
from cloud.devices.schemas import LastReading, MeasurementBucket, PositionPoint
from cloud.errors import AppError
from cloud.measurements.models import Measurement as M
from cloud.measurements.models import Position as P

BUCKETS: dict[str, timedelta] = {
    "10s": timedelta(seconds=10),
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
}
MAX_BUCKETS = 10_000
MAX_POSITIONS = 10_000
AVG_QUANTUM = Decimal("0.001")
LAST_READING_WINDOW = timedelta(days=1)
"""How far back the status view looks for a channel's last reading. Bounded so that
TimescaleDB only opens the newest chunks; the heartbeat's ``last_reading_at`` per port still
says when an older one came in."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

Method = Literal["auto", "timescale", "sql", "python"]


class TimeRangeInvalid(AppError):
    status_code = 422


class BucketNotAllowed(AppError):
    status_code = 422


class TooManyBuckets(AppError):
    status_code = 422


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def check_window(start: datetime, end: datetime) -> Window:
    """``[start, end)`` with aware times and ``start < end``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise TimeRangeInvalid("'from' and 'to' need a time zone (e.g. 2026-11-27T07:00:00Z)")
    if start >= end:
        raise TimeRangeInvalid(
            f"'from' ({start.isoformat()}) must be before 'to' ({end.isoformat()})"
        )
    try:
        return Window(start.astimezone(UTC), end.astimezone(UTC))
    except OverflowError:  # the API refuses these already (cloud.types.BoundedDatetime)
        raise TimeRangeInvalid(
            f"'from' ({start.isoformat()}) or 'to' ({end.isoformat()}) is out of range"
        ) from None


def bucket_width(bucket: str) -> timedelta:
    try:
        return BUCKETS[bucket]
    except KeyError:
        raise BucketNotAllowed(f"bucket {bucket!r} is not one of {', '.join(BUCKETS)}") from None


def bucket_floor(t: datetime, width: timedelta) -> datetime:
    """The start of the epoch-aligned bucket holding ``t`` (exact, integer microseconds)."""
    us = (t - EPOCH) // _US
    step = width // _US
    return EPOCH + timedelta(microseconds=(us // step) * step)


def bucket_count(window: Window, width: timedelta) -> int:
    first = bucket_floor(window.start, width)
    last = bucket_floor(window.end - _US, width)
    return (last - first) // width + 1


def timescale_installed(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return False
    return bool(
        session.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'")).scalar()
    )


# -- bucketed weights -------------------------------------------------------------------------


def measurement_buckets(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    start: datetime,
    end: datetime,
    bucket: str = "1m",
    channel: str | None = None,
    method: Method = "auto",
) -> list[MeasurementBucket]:
    """Weight readings of one device in ``[start, end)`` per bucket, channel and unit: count,
    min, max, avg and the last value. Buckets without readings are left out."""
    window = check_window(start, end)
    width = bucket_width(bucket)
    n = bucket_count(window, width)
    if n > MAX_BUCKETS:
        raise TooManyBuckets(
            f"{n} buckets of {bucket} between 'from' and 'to'; at most {MAX_BUCKETS} per "
            "request: use a wider bucket or a shorter range"
        )
    if method == "auto":
        if session.get_bind().dialect.name != "postgresql":
            method = "python"
        else:
            method = "timescale" if timescale_installed(session) else "sql"
    filters = [
        M.tenant_id == tenant_id,
        M.device_id == device_id,
        M.time >= window.start,
        M.time < window.end,
        M.kind == "weight",
        M.value.is_not(None),
    ]
    if channel is not None:
        filters.append(M.channel == channel)
    if method == "python":
        return _buckets_python(session, filters, width)
    return _buckets_sql(session, filters, width, timescale=method == "timescale")


def _buckets_sql(
    session: Session, filters: list[Any], width: timedelta, *, timescale: bool
) -> list[MeasurementBucket]:
    seconds = int(width.total_seconds())  # from the allow-list: safe to inline
    if timescale:
        start_of: ColumnElement[Any] = func.time_bucket(
            literal_column(f"INTERVAL '{seconds} seconds'"), M.time
        )
        last: ColumnElement[Any] = func.last(M.value, M.time, type_=M.value.type)
    else:
        start_of = func.to_timestamp(func.floor(func.extract("epoch", M.time) / seconds) * seconds)
        last = type_coerce(
            func.array_agg(literal_column("value ORDER BY time DESC, message_id DESC, idx DESC"))[
                1
            ],
            M.value.type,
        )
    bucket_col = type_coerce(start_of, UTCDateTime()).label("bucket")
    stmt = (
        select(
            bucket_col,
            M.channel,
            M.unit,
            func.count().label("n"),
            func.min(M.value).label("lo"),
            func.max(M.value).label("hi"),
            func.sum(M.value).label("total"),
            last.label("last"),
        )
        .where(*filters)
        .group_by(literal_column("bucket"), M.channel, M.unit)
        .order_by(literal_column("bucket"), M.channel, M.unit.asc().nulls_last())
    )
    return [
        MeasurementBucket(
            time=r.bucket,
            channel=r.channel,
            unit=r.unit,
            count=r.n,
            min=r.lo,
            max=r.hi,
            avg=_avg(r.total, r.n),
            last=r.last,
        )
        for r in session.execute(stmt)
    ]


@dataclass
class _Acc:
    count: int
    lo: Decimal
    hi: Decimal
    total: Decimal
    last: Decimal


def _buckets_python(
    session: Session, filters: list[Any], width: timedelta
) -> list[MeasurementBucket]:
    stmt = (
        select(M.time, M.channel, M.unit, M.value)
        .where(*filters)
        .order_by(M.time, M.message_id, M.idx)
        .execution_options(yield_per=5000)
    )
    accs: dict[tuple[datetime, str, str | None], _Acc] = {}
    for t, channel, unit, value in session.execute(stmt):
        key = (bucket_floor(t, width), channel, unit)
        acc = accs.get(key)
        if acc is None:
            accs[key] = _Acc(1, value, value, value, value)
            continue
        acc.count += 1
        acc.lo = min(acc.lo, value)
        acc.hi = max(acc.hi, value)
        acc.total += value
        acc.last = value  # rows come in time order
    keys = sorted(accs, key=lambda k: (k[0], k[1], k[2] is None, k[2] or ""))
    return [
        MeasurementBucket(
            time=k[0],
            channel=k[1],
            unit=k[2],
            count=accs[k].count,
            min=accs[k].lo,
            max=accs[k].hi,
            avg=_avg(accs[k].total, accs[k].count),
            last=accs[k].last,
        )
        for k in keys
    ]


def _avg(total: Decimal, count: int) -> Decimal:
    return (Decimal(total) / count).quantize(AVG_QUANTUM, rounding=ROUND_HALF_EVEN)


# -- positions --------------------------------------------------------------------------------


def position_track(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    start: datetime,
    end: datetime,
    limit: int = 1000,
) -> tuple[list[PositionPoint], bool]:
    """Raw points in ``[start, end)`` in time order, at most ``limit``; and whether more
    were left out."""
    window = check_window(start, end)
    if not 1 <= limit <= MAX_POSITIONS:
        raise TimeRangeInvalid(f"limit must be between 1 and {MAX_POSITIONS}")
    rows = session.execute(
        select(P.time, P.channel, P.lat, P.lon, P.speed_kmh, P.course, P.satellites)
        .where(
            P.tenant_id == tenant_id,
            P.device_id == device_id,
            P.time >= window.start,
            P.time < window.end,
        )
        .order_by(P.time, P.message_id, P.idx)
        .limit(limit + 1)
    ).all()
    points = [PositionPoint.model_validate(r._asdict()) for r in rows[:limit]]
    return points, len(rows) > limit


# -- last reading per channel -----------------------------------------------------------------


def last_readings(
    session: Session,
    *,
    tenant_id: int,
    device_ids: Sequence[str],
    now: datetime,
    window: timedelta = LAST_READING_WINDOW,
) -> dict[str, list[LastReading]]:
    """The newest reading of each channel of each device (one query): ``DISTINCT ON`` on
    PostgreSQL, ``ROW_NUMBER()`` elsewhere. Ties on time go to the later message."""
    if not device_ids:
        return {}
    cols = (M.device_id, M.channel, M.kind, M.time, M.value, M.unit, M.stable, M.mode,
            M.condition, M.tag_id)  # fmt: skip
    filters = (
        M.tenant_id == tenant_id,
        M.device_id.in_(list(device_ids)),
        M.time >= now - window,
    )
    newest_first = (M.time.desc(), M.message_id.desc(), M.idx.desc())
    if session.get_bind().dialect.name == "postgresql":
        stmt: Any = (
            select(*cols)
            .where(*filters)
            .distinct(M.device_id, M.channel)
            .order_by(M.device_id, M.channel, *newest_first)
        )
    else:
        rn = func.row_number().over(partition_by=(M.device_id, M.channel), order_by=newest_first)
        ranked = select(*cols, rn.label("rn")).where(*filters).subquery()
        stmt = (
            select(*(ranked.c[c.key] for c in cols))
            .where(ranked.c.rn == 1)
            .order_by(ranked.c.device_id, ranked.c.channel)
        )
    out: dict[str, list[LastReading]] = {}
    for r in session.execute(stmt):
        row = r._asdict()
        out.setdefault(row.pop("device_id"), []).append(LastReading.model_validate(row))
    return out
