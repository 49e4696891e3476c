"""Upgrading a database in use: what was written before a migration keeps working after it.

Rows are written at the older revision with plain SQL, as the code of that time wrote them;
then the database is upgraded to head and the current code acts on them. SQLite and
PostgreSQL + TimescaleDB.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, MetaData, Table, func, select

from cloud.db import make_engine, make_sessionmaker
from cloud.ingest.models import DeadLetter
from cloud.ingest.pipeline import Incoming
from cloud.ingest.runner import ingest_batch
from cloud.migrations import downgrade, upgrade
from cloud.orders.models import Order
from protocols import (
    Attachment,
    DownStream,
    Job,
    JobDispatch,
    JobUpdate,
    ProofOfDelivery,
    down_topic,
    encode,
    up_topic,
)

pytestmark = pytest.mark.integration
T = datetime(2026, 11, 30, 7, tzinfo=UTC)


def _insert(conn: Connection, table: str, **values: Any) -> Any:
    """Insert one row into ``table`` as it exists at the current revision (reflected)."""
    t = Table(table, MetaData(), autoload_with=conn)
    return conn.execute(t.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]


def _old_world(conn: Connection) -> dict[str, Any]:
    """A tenant with a truck on a vehicle and three planned orders, written as the code at
    revision 0003 wrote them: two dispatched to the truck (one with its job still in the
    outbox, one whose outbox row is gone), and one on a vehicle whose only truck is revoked."""
    tenant = _insert(
        conn,
        "tenants",
        slug="old",
        name="Old B.V.",
        country="NL",
        timezone="Europe/Amsterdam",
        next_order_number=4,
        created_at=T,
    )
    customer = _insert(
        conn,
        "customers",
        tenant_id=tenant,
        number="1001",
        name="Klant",
        country="NL",
        payment_terms_days=30,
        is_cash=False,
        created_at=T,
    )
    vehicles = [
        _insert(conn, "vehicles", tenant_id=tenant, plate=p, plate_key=p.replace("-", ""), kind=k)
        for p, k in (("BX-123-Z", "truck"), ("BX-456-Z", "truck"))
    ]
    _insert(
        conn,
        "devices",
        id="truck-old",
        tenant_id=tenant,
        kind="truck",
        vehicle_id=vehicles[0],
        created_at=T,
        down_seq=7,
        online=False,
    )
    _insert(
        conn,
        "devices",
        id="truck-gone",
        tenant_id=tenant,
        kind="truck",
        vehicle_id=vehicles[1],
        created_at=T,
        down_seq=2,
        online=False,
        revoked_at=T,
    )

    def order(number: str, vehicle_id: int) -> int:
        return _insert(
            conn,
            "orders",
            tenant_id=tenant,
            number=number,
            order_type="container_exchange",
            source="manual",
            status="planned",
            customer_id=customer,
            vehicle_id=vehicle_id,
            requested_date=date(2026, 11, 30),
            needs_review=False,
            review_reasons=[],
            created_at=T,
            updated_at=T,
        )

    ids = {n: order(n, v) for n, v in (("O-1", vehicles[0]), ("O-2", vehicles[0]))}
    ids["O-3"] = order("O-3", vehicles[1])
    job = Job(
        job_id="O-1",
        order_number="O-1",
        revision=5,
        sequence=0,
        kind="exchange",
        planned_date=date(2026, 11, 30),
    )
    sent = JobDispatch(
        message_id=uuid.uuid4(),
        device_id="truck-old",
        seq=5,
        occurred_at=T,
        action="upsert",
        job_id="O-1",
        job=job,
    )
    _insert(
        conn,
        "outbox_jobs",
        tenant_id=tenant,
        kind="mqtt_publish",
        target=down_topic("truck-old", DownStream.JOB),
        payload=encode(sent),
        created_at=T,
        attempts=1,
        done_at=T + timedelta(seconds=1),
    )
    return ids


def _completed_with_pod(job_id: str, seq: int) -> list[Incoming]:
    at = T + timedelta(hours=2)
    done = JobUpdate(
        message_id=uuid.uuid4(),
        device_id="truck-old",
        seq=seq,
        occurred_at=at,
        job_id=job_id,
        event="completed",
    )
    sig = Attachment(sha256=f"{seq:x}" * 64, content_type="image/png", size=10, filename="s.png")
    pod = ProofOfDelivery(
        message_id=uuid.uuid4(),
        device_id="truck-old",
        seq=seq + 1,
        occurred_at=at,
        job_id=job_id,
        signer_name="J. Klant",
        signature=sig,
    )
    return [
        Incoming(up_topic("truck-old", "job-update"), encode(done), at),
        Incoming(up_topic("truck-old", "pod"), encode(pod), at),
    ]


def test_the_upgrade_assigns_jobs_already_on_trucks(db_url: str) -> None:
    downgrade(db_url, "0003")
    engine = make_engine(db_url, pool_size=2)
    try:
        with engine.begin() as conn:
            ids = _old_world(conn)
        upgrade(db_url, "0004")
        with engine.connect() as conn:
            t = Table("job_assignments", MetaData(), autoload_with=conn)
            rows = conn.execute(select(t.c.order_id, t.c.device_id, t.c.revision, t.c.withdrawn_at))
            assignments = {r[0]: tuple(r[1:]) for r in rows}
    finally:
        engine.dispose()
    # The job in the outbox gives its revision; without one, the truck's latest down_seq.
    # The order on the vehicle whose only truck is revoked was never anyone's to report on.
    assert assignments == {ids["O-1"]: ("truck-old", 5, None), ids["O-2"]: ("truck-old", 7, None)}


def test_jobs_dispatched_before_the_upgrade_can_still_be_completed(db_url: str) -> None:
    # On SQLite this also covers 0006 rebuilding ``vehicles`` (batch mode) while rows point at
    # it: the migration runs with foreign keys off and checks them at its end.
    downgrade(db_url, "0003")
    engine = make_engine(db_url, pool_size=2)
    try:
        with engine.begin() as conn:
            ids = _old_world(conn)
        upgrade(db_url)
        factory = make_sessionmaker(engine)
        items = [*_completed_with_pod("O-1", 1), *_completed_with_pod("O-2", 3)]
        out = ingest_batch(factory, items)
        assert out.dead == 0 and out.stored == 4
        with factory() as s:
            assert s.scalar(select(func.count()).select_from(DeadLetter)) == 0
            status = dict(s.execute(select(Order.number, Order.status)).tuples().all())
        assert status == {"O-1": "executed", "O-2": "executed", "O-3": "planned"}
        assert set(ids) == set(status)
    finally:
        engine.dispose()
