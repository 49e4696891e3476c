"""Time series: bucketed weights (TimescaleDB ``time_bucket`` and the portable fallback give
the same buckets), positions, validation, retention, on both dialects."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from cloud.db import transaction
from cloud.entrypoints.app import create_app
from cloud.measurements import query
from cloud.measurements.models import Measurement, Position
from cloud.measurements.retention import RetentionTooShort, apply_retention
from cloud.settings import Settings
from tests.support.factories import create_world

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

T = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def _row(device, tenant_id, at, value, *, channel="bridge", unit="kg", kind="weight", idx=0):  # type: ignore[no-untyped-def]
    return {
        "time": at,
        "message_id": str(uuid.uuid4()),
        "idx": idx,
        "tenant_id": tenant_id,
        "device_id": device,
        "channel": channel,
        "kind": kind,
        "value": None if value is None else Decimal(value),
        "unit": unit if kind == "weight" else None,
        "stable": True,
        "mode": "gross",
        "tare": None,
        "condition": "ok",
        "tag_id": "000414CD7E" if kind == "tag" else None,
    }


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        a = create_world(s, slug="ts", device_id="wb-ts")
        b = create_world(s, slug="other", device_id="wb-other")
        s.execute(
            insert(Measurement),
            [
                _row("wb-ts", a.tenant_id, T + timedelta(seconds=5), "100"),
                _row("wb-ts", a.tenant_id, T + timedelta(seconds=20), "300.5"),
                _row("wb-ts", a.tenant_id, T + timedelta(seconds=59, microseconds=999999), "200"),
                _row("wb-ts", a.tenant_id, T + timedelta(minutes=1), "18240"),  # next bucket
                _row("wb-ts", a.tenant_id, T + timedelta(minutes=1, seconds=1), "18260.125"),
                _row("wb-ts", a.tenant_id, T + timedelta(seconds=30), "7.5", channel="axle",
                     unit="t"),
                _row("wb-ts", a.tenant_id, T + timedelta(seconds=31), None),  # overload: no value
                _row("wb-ts", a.tenant_id, T + timedelta(seconds=32), None, kind="tag"),
                _row("wb-ts", a.tenant_id, T - timedelta(microseconds=1), "5"),  # before `from`
                _row("wb-ts", a.tenant_id, T + timedelta(minutes=2), "5"),  # at `to`: excluded
                _row("wb-other", b.tenant_id, T + timedelta(seconds=10), "999"),
            ],
        )  # fmt: skip
    return a, b


EXPECTED_1M = [
    (T, "axle", "t", 1, "7.5", "7.5", "7.500", "7.5"),
    (T, "bridge", "kg", 3, "100", "300.5", "200.167", "200"),
    (T + timedelta(minutes=1), "bridge", "kg", 2, "18240", "18260.125", "18250.062", "18260.125"),
]


def _plain(rows):  # type: ignore[no-untyped-def]
    return [
        (r.time, r.channel, r.unit, r.count, str(r.min), str(r.max), str(r.avg), str(r.last))
        for r in rows
    ]


def test_buckets_are_exact_and_the_same_on_both_dialects(factory, world) -> None:  # type: ignore[no-untyped-def]
    a, _ = world
    with factory() as s:
        rows = query.measurement_buckets(
            s, tenant_id=a.tenant_id, device_id="wb-ts", start=T, end=T + timedelta(minutes=2),
            bucket="1m",
        )  # fmt: skip
        assert _plain(rows) == EXPECTED_1M
        only_axle = query.measurement_buckets(
            s, tenant_id=a.tenant_id, device_id="wb-ts", start=T, end=T + timedelta(minutes=2),
            bucket="1h", channel="axle",
        )  # fmt: skip
        assert _plain(only_axle) == [(T, "axle", "t", 1, "7.5", "7.5", "7.500", "7.5")]
        if s.get_bind().dialect.name == "postgresql":
            for method in ("timescale", "sql", "python"):
                got = query.measurement_buckets(
                    s, tenant_id=a.tenant_id, device_id="wb-ts", start=T,
                    end=T + timedelta(minutes=2), bucket="1m", method=method,
                )  # fmt: skip
                assert _plain(got) == EXPECTED_1M, method


def test_implementations_agree_on_random_data(factory, world) -> None:  # type: ignore[no-untyped-def]
    """Every bucket width, random times and decimals: the database's aggregation (PostgreSQL)
    or the Python one (SQLite) against the Python one on the same rows."""
    a, _ = world
    rnd = random.Random(7)
    start = datetime(2026, 11, 25, 22, 47, 13, tzinfo=UTC)
    span = timedelta(days=2, hours=3)
    times = sorted(
        {
            start + timedelta(microseconds=rnd.randrange(span // timedelta(microseconds=1)))
            for _ in range(600)
        }
    )
    rows = [
        _row("wb-rnd", a.tenant_id, t, f"{rnd.randrange(-500, 60000)}.{rnd.randrange(1000):03d}",
             channel=rnd.choice(["bridge", "axle"]))
        for t in times
    ]  # fmt: skip
    with transaction(factory) as s:
        s.execute(insert(Measurement), rows)
    with factory() as s:
        for bucket in query.BUCKETS:
            end = start + span if bucket != "10s" else start + timedelta(hours=20)
            kw = dict(
                tenant_id=a.tenant_id, device_id="wb-rnd", start=start, end=end, bucket=bucket
            )
            auto = query.measurement_buckets(s, **kw)  # type: ignore[arg-type]
            python = query.measurement_buckets(s, method="python", **kw)  # type: ignore[arg-type]
            assert _plain(auto) == _plain(python), bucket
            assert sum(r.count for r in python) == sum(1 for t in times if t < end)
            width = query.BUCKETS[bucket]
            assert all(query.bucket_floor(r.time, width) == r.time for r in python)


def test_bucket_floor_is_epoch_aligned() -> None:
    at = datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=UTC)
    assert query.bucket_floor(at, timedelta(days=1)) == datetime(2026, 11, 27, tzinfo=UTC)
    assert query.bucket_floor(at, timedelta(minutes=15)) == datetime(
        2026, 11, 27, 23, 45, tzinfo=UTC
    )
    edge = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    assert query.bucket_floor(edge, timedelta(hours=1)) == edge
    assert query.bucket_floor(
        edge - timedelta(microseconds=1), timedelta(seconds=10)
    ) == edge - timedelta(seconds=10)
    window = query.check_window(T, T + timedelta(minutes=1, microseconds=1))
    assert query.bucket_count(window, timedelta(minutes=1)) == 2


def test_api_series_positions_and_validation(factory, db_url, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    with transaction(factory) as s:
        s.execute(
            insert(Position),
            [
                {"time": T + timedelta(seconds=i), "message_id": str(uuid.uuid4()), "idx": 0,
                 "tenant_id": a.tenant_id, "device_id": "wb-ts", "channel": "gps",
                 "lat": Decimal("52.0907374"), "lon": Decimal("5.1214201"),
                 "speed_kmh": Decimal("12.50"), "course": None, "satellites": 9}
                for i in range(5)
            ],
        )  # fmt: skip
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    h = {"Authorization": f"Bearer {a.token}"}
    base = "/api/v1/devices/wb-ts"
    span = {"from": T.isoformat(), "to": (T + timedelta(minutes=2)).isoformat()}
    with TestClient(app) as c:
        r = c.get(f"{base}/measurements", params={**span, "bucket": "1m"}, headers=h)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["from"] == "2026-11-27T07:00:00Z" and body["bucket"] == "1m"
        assert body["items"][1] == {
            "time": "2026-11-27T07:00:00Z", "channel": "bridge", "unit": "kg", "count": 3,
            "min": "100", "max": "300.5", "avg": "200.167", "last": "200",
        }  # fmt: skip

        def error(params):  # type: ignore[no-untyped-def]
            r = c.get(f"{base}/measurements", params=params, headers=h)
            assert r.status_code == 422, r.text
            return r.json()

        assert error({**span, "bucket": "2m"})["error"] == "BucketNotAllowed"
        assert "10s, 1m, 5m, 15m, 1h, 1d" in error({**span, "bucket": "7s"})["detail"]
        assert error({"from": span["to"], "to": span["from"]})["error"] == "TimeRangeInvalid"
        assert error({"from": span["from"], "to": span["from"]})["error"] == "TimeRangeInvalid"
        too_many = {
            "from": T.isoformat(),
            "to": (T + timedelta(days=2)).isoformat(),
            "bucket": "10s",
        }
        body = error(too_many)
        assert body["error"] == "TooManyBuckets" and "17280" in body["detail"]
        assert (
            error({"from": "2026-11-27T07:00:00", "to": span["to"]})["error"] == "ValidationError"
        )
        ok = {"from": T.isoformat(), "to": (T + timedelta(days=1)).isoformat(), "bucket": "10s"}
        assert c.get(f"{base}/measurements", params=ok, headers=h).status_code == 200

        r = c.get(f"{base}/positions", params={**span, "limit": 3}, headers=h)
        assert r.status_code == 200
        track = r.json()
        assert track["truncated"] is True and len(track["items"]) == 3
        assert track["items"][0]["lat"] == "52.0907374" and track["items"][0]["satellites"] == 9
        r = c.get(f"{base}/positions", params=span, headers=h)
        assert r.json()["truncated"] is False and len(r.json()["items"]) == 5
        other = {"Authorization": f"Bearer {b.token}"}
        assert c.get(f"{base}/positions", params=span, headers=other).status_code == 404


def test_retention_removes_only_old_readings(factory, engine, world) -> None:  # type: ignore[no-untyped-def]
    a, _ = world
    now = T + timedelta(days=1)
    old = now - timedelta(days=200)
    with transaction(factory) as s:
        s.execute(
            insert(Measurement),
            [_row("wb-ts", a.tenant_id, old + timedelta(hours=i), "1") for i in range(3)],
        )
        s.execute(
            insert(Position),
            [{"time": t, "message_id": str(uuid.uuid4()), "idx": 0, "tenant_id": a.tenant_id,
              "device_id": "wb-ts", "channel": "gps", "lat": Decimal("52"), "lon": Decimal("5"),
              "speed_kmh": None, "course": None, "satellites": None}
             for t in (old, now - timedelta(hours=1))],
        )  # fmt: skip
    with pytest.raises(RetentionTooShort):
        apply_retention(engine, older_than=timedelta(hours=1), now=now)
    removed = apply_retention(engine, older_than=timedelta(days=90), now=now)
    if engine.dialect.name == "postgresql":
        assert removed == 2  # one 1-day chunk in each hypertable
    else:
        assert removed == 4  # rows: 3 measurements, 1 position
    with factory() as s:
        assert s.scalar(select(func.min(Measurement.time))) == T - timedelta(microseconds=1)
        assert s.scalar(select(func.count()).select_from(Measurement)) == 11
        assert s.scalar(select(func.count()).select_from(Position)) == 1
    assert apply_retention(engine, older_than=timedelta(days=90), now=now) == 0
