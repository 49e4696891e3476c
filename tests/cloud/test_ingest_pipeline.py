"""Ingest batches against the real database (SQLite and PostgreSQL + TimescaleDB)."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cloud.db import transaction, utcnow
from cloud.devices.models import Device
from cloud.ingest.models import DeadLetter, IngestReceipt
from cloud.ingest.pipeline import Incoming
from cloud.ingest.runner import ingest_batch
from cloud.measurements.models import Measurement as MeasurementRow
from cloud.orders.models import Order, OrderStatusChange
from cloud.weighings.models import Weighing
from protocols import Heartbeat, Status, encode, up_topic
from tests.support.factories import create_world, incoming, measurement, ticket

pytestmark = pytest.mark.integration


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        return create_world(s)


def count(factory, model, *where) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_weighing_creates_and_executes_a_walk_in_order(factory, world) -> None:  # type: ignore[no-untyped-def]
    msg = ticket(seq=1)
    out = ingest_batch(factory, [incoming(msg)])
    assert out.committed == {"wb-1": [msg.message_id]}
    assert out.stored == 1 and out.dead == 0
    with factory() as s:
        order = s.scalars(select(Order)).one()
        w = s.scalars(select(Weighing)).one()
        history = s.scalars(select(OrderStatusChange).order_by(OrderStatusChange.id)).all()
    assert order.status == "executed" and order.source == "weighing"
    assert order.customer_id == world.customer_id and order.vehicle_id == world.vehicle_id
    assert not order.needs_review
    assert (w.gross, w.tare, w.net) == (Decimal("32460"), Decimal("14220"), Decimal("18240"))
    assert w.order_id == order.id and w.first_at.tzinfo is not None
    assert [(h.from_status, h.to_status) for h in history] == [
        (None, "created"),
        ("created", "executed"),
    ]
    assert all(h.by_device_id == "wb-1" for h in history)


def test_unknown_vehicle_goes_to_the_cash_customer_flagged(factory, world) -> None:  # type: ignore[no-untyped-def]
    ingest_batch(factory, [incoming(ticket(card="FFFFFFFFFF", plate="ZZ-999-Z"))])
    with factory() as s:
        order = s.scalars(select(Order)).one()
        from cloud.customers.models import Customer

        customer = s.get(Customer, order.customer_id)
    assert customer.is_cash
    assert order.needs_review and "unknown vehicle" in order.review_reasons[0]
    assert order.status == "executed"


def test_plate_identifies_a_vehicle_in_any_spelling(factory, world) -> None:  # type: ignore[no-untyped-def]
    ingest_batch(factory, [incoming(ticket(card=None, plate="bx 123 z"))])
    with factory() as s:
        assert s.scalars(select(Order)).one().vehicle_id == world.vehicle_id


def test_planned_order_is_matched_instead_of_a_walk_in(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.orders.lifecycle import OrderStatus
    from cloud.orders.schemas import OrderCreate
    from cloud.orders.service import change_status, create_order

    with transaction(factory) as s:
        o = create_order(
            s,
            tenant_id=world.tenant_id,
            source="manual",
            data=OrderCreate(
                customer_id=world.customer_id,
                order_type="bulk_transport",
                vehicle_id=world.vehicle_id,
                site_id=world.site_id,
                requested_date=datetime(2026, 11, 27).date(),
                material="zand",
            ),
        )
        change_status(s, order=o, to=OrderStatus.PLANNED, by_user_id=world.user_id)
        planned_id = o.id
    ingest_batch(factory, [incoming(ticket(material="Zand"))])
    with factory() as s:
        orders = s.scalars(select(Order)).all()
        assert len(orders) == 1 and orders[0].id == planned_id
        assert orders[0].status == "executed"
        assert s.scalars(select(Weighing)).one().order_id == planned_id


def test_duplicates_are_stored_once_and_still_receipted(factory, world) -> None:  # type: ignore[no-untyped-def]
    msg = ticket()
    m = measurement(seq=2)
    first = ingest_batch(factory, [incoming(msg), incoming(msg), incoming(m)])
    again = ingest_batch(factory, [incoming(m), incoming(msg)])
    assert first.stored == 2 and first.duplicates == 1
    assert again.stored == 0 and again.duplicates == 2
    assert set(again.committed["wb-1"]) == {msg.message_id, m.message_id}
    assert count(factory, Weighing) == 1 and count(factory, Order) == 1
    assert count(factory, MeasurementRow) == 10
    assert count(factory, IngestReceipt) == 2


def test_measurements_keep_exact_values_and_conditions(factory, world) -> None:  # type: ignore[no-untyped-def]
    from protocols import Measurement, WeightReading

    at = datetime(2026, 11, 27, 8, tzinfo=UTC)
    m = Measurement(
        message_id=uuid.uuid4(),
        device_id="wb-1",
        seq=5,
        occurred_at=at,
        readings=[
            WeightReading(at=at, channel="bridge", value=Decimal("12.345"), unit="t", stable=True),
            WeightReading(at=at, channel="bridge", condition="overload"),
        ],
    )
    ingest_batch(factory, [incoming(m)])
    with factory() as s:
        rows = s.scalars(select(MeasurementRow).order_by(MeasurementRow.idx)).all()
    assert rows[0].value == Decimal("12.345") and rows[0].unit == "t"
    assert rows[1].value is None and rows[1].condition == "overload"


def test_every_reading_shape_is_stored_exactly_as_sent(factory, world) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL the rows go through hand-built COPY lines; they must give the same rows as
    the generic path (``rows_for``), for every reading kind and every optional field."""
    from datetime import timedelta, timezone

    from cloud.measurements.models import Position
    from cloud.measurements.service import POSITION_COLUMNS, rows_for
    from protocols import Measurement, PositionReading, TagReading, WeightReading

    at = datetime(2026, 11, 27, 8, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    readings = [
        WeightReading(
            at=at,
            channel="bridge",
            value=Decimal("-12.345678"),
            unit="t",
            stable=True,
            mode="net",
            tare=Decimal("999999.5"),
        ),
        WeightReading(at=at, channel="axle.1", value=Decimal("999999.000001"), unit="kg"),
        WeightReading(at=at, channel="bridge", value=Decimal("0"), unit="lb", stable=False),
        WeightReading(at=at, channel="bridge", condition="overload"),
        WeightReading(at=at, channel="bridge", condition="error"),
        TagReading(at=at, channel="rfid", tag_id="0A1B2C3D4E"),
        TagReading(at=at, channel="rfid", tag_id="528140000123456"),
        PositionReading(
            at=at,
            channel="gps",
            lat=Decimal("52.0907374"),
            lon=Decimal("-5.1214201"),
            speed_kmh=Decimal("87.25"),
            course=Decimal("359.99"),
            satellites=0,
        ),
        PositionReading(at=at, channel="gps", lat=Decimal("-90"), lon=Decimal("180")),
    ]
    m = Measurement(
        message_id=uuid.uuid4(), device_id="wb-1", seq=9, occurred_at=at, readings=readings
    )
    ingest_batch(factory, [incoming(m)])
    with factory() as s:
        device = s.get(Device, "wb-1")
        expected_weights, expected_positions = rows_for(device, m)
        weights = s.scalars(select(MeasurementRow).order_by(MeasurementRow.idx)).all()
        positions = s.scalars(select(Position).order_by(Position.idx)).all()
    from cloud.measurements.service import MEASUREMENT_COLUMNS

    assert [tuple(getattr(r, c) for c in MEASUREMENT_COLUMNS) for r in weights] == expected_weights
    assert [tuple(getattr(r, c) for c in POSITION_COLUMNS) for r in positions] == expected_positions
    assert len(weights) == 7 and len(positions) == 2


BAD = [
    ("invalid_json", "oms/v1/wb-1/up/weighing", b"{nope"),
    ("schema", "oms/v1/wb-1/up/weighing", b'{"type": "weighing", "device_id": "wb-1"}'),
    ("bad_topic", "something/else", b"{}"),
    ("oversize", "oms/v1/wb-1/up/measurement", b"x" * 300_000),
]


@pytest.mark.parametrize("reason,topic,payload", BAD, ids=[b[0] for b in BAD])
def test_bad_input_goes_to_dead_letters_and_the_batch_goes_on(
    factory, world, reason, topic, payload
) -> None:  # type: ignore[no-untyped-def]
    good = ticket()
    out = ingest_batch(factory, [Incoming(topic, payload), incoming(good)])
    assert out.dead == 1 and out.stored == 1
    with factory() as s:
        dl = s.scalars(select(DeadLetter)).one()
    assert dl.reason == reason and dl.payload == payload[:4096] and dl.detail
    assert dl.payload_size == len(payload)
    assert dl.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert count(factory, Order) == 1


def test_topic_device_mismatch_is_dead_lettered_and_rejected(factory, world) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        from cloud.devices.service import create_device

        create_device(s, tenant_id=world.tenant_id, device_id="wb-2", kind="weighbridge")
    msg = ticket("wb-1")
    out = ingest_batch(factory, [incoming(msg, topic=up_topic("wb-2", "weighing"))])
    assert out.dead == 1 and out.stored == 0
    assert out.rejected["wb-2"][0].message_id == msg.message_id
    with factory() as s:
        assert s.scalars(select(DeadLetter)).one().reason == "topic_mismatch"


def test_unknown_and_revoked_devices_are_dead_lettered(factory, world) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        s.get(Device, "wb-1").revoked_at = utcnow()
    out = ingest_batch(factory, [incoming(ticket("wb-1")), incoming(ticket("wb-ghost"))])
    assert out.dead == 2 and not out.committed
    with factory() as s:
        reasons = sorted(d.reason for d in s.scalars(select(DeadLetter)))
    assert reasons == ["revoked_device", "unknown_device"]


def test_a_reused_ticket_number_is_isolated_not_the_whole_batch(factory, world) -> None:  # type: ignore[no-untyped-def]
    first = ticket(number="WB-7", seq=1)
    reused = ticket(number="WB-7", seq=2)  # same instrument and number, another message
    m = measurement(seq=3)
    out = ingest_batch(factory, [incoming(first), incoming(reused), incoming(m)])
    assert out.stored == 2 and out.dead == 1
    assert out.rejected["wb-1"][0].message_id == reused.message_id
    with factory() as s:
        dl = s.scalars(select(DeadLetter)).one()
    assert dl.reason == "processing_error" and "IntegrityError" in dl.detail
    assert count(factory, Weighing) == 1 and count(factory, MeasurementRow) == 10


def test_presence_updates_the_device(factory, world) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    hb = Heartbeat(
        message_id=uuid.uuid4(),
        device_id="wb-1",
        seq=7,
        occurred_at=now,
        software_version="0.1.0",
        uptime_s=10,
        outbox_backlog=3,
        outbox_bytes=100,
        outbox_budget_bytes=1000,
    )
    off = Status(message_id=uuid.uuid4(), device_id="wb-1", seq=7, occurred_at=now, online=False)
    ingest_batch(factory, [incoming(hb)])
    with factory() as s:
        d = s.get(Device, "wb-1")
        assert (
            d.online and d.software_version == "0.1.0" and d.last_heartbeat["outbox_backlog"] == 3
        )
    ingest_batch(factory, [Incoming(up_topic("wb-1", "status"), encode(off))])
    with factory() as s:
        assert not s.get(Device, "wb-1").online
    assert count(factory, IngestReceipt) == 0  # presence is not deduplicated state


def test_device_seq_and_clock_are_tracked(factory, world) -> None:  # type: ignore[no-untyped-def]
    ingest_batch(factory, [incoming(measurement(seq=4)), incoming(measurement(seq=2))])
    with factory() as s:
        d = s.get(Device, "wb-1")
    assert d.last_seq == 4 and d.clock_offset_s is not None
    with factory() as s:
        seqs = sorted(r.seq for r in s.scalars(select(IngestReceipt)))
    assert seqs == [2, 4]


def test_dead_letter_payload_is_raw_bytes(factory, world) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps({"type": "weighing", "message_id": str(uuid.uuid4())}).encode() + b"\xff"
    ingest_batch(factory, [Incoming("oms/v1/wb-1/up/weighing", raw)])
    with factory() as s:
        dl = s.scalars(select(DeadLetter)).one()
    assert dl.payload == raw and dl.message_id is not None


def test_seq_gaps_open_and_close(factory, world) -> None:  # type: ignore[no-untyped-def]
    ingest_batch(factory, [incoming(measurement(seq=1)), incoming(measurement(seq=2))])
    ingest_batch(factory, [incoming(measurement(seq=6)), incoming(measurement(seq=4))])
    with factory() as s:
        d = s.get(Device, "wb-1")
        assert (d.last_seq, d.seq_gaps) == (6, [[3, 3], [5, 5]])
    ingest_batch(factory, [incoming(measurement(seq=5)), incoming(measurement(seq=3))])
    with factory() as s:
        assert s.get(Device, "wb-1").seq_gaps == []


def test_concurrent_workers_do_not_invent_seq_gaps(factory, world) -> None:  # type: ignore[no-untyped-def]
    """A shared subscription spreads one device's messages over all workers, so two batches
    of the same device overlap in time: 1, 3, 5 in one transaction and 2, 4, 6 in the other.
    The second must see the first's seq bookkeeping, not overwrite it with its own."""
    import threading

    from cloud.ingest.pipeline import process_batch

    first = factory()
    first.begin()
    process_batch(first, [incoming(measurement(seq=q)) for q in (1, 3, 5)])
    errors: list[Exception] = []

    def other() -> None:
        try:
            with transaction(factory) as s:
                process_batch(s, [incoming(measurement(seq=q)) for q in (2, 4, 6)])
        except Exception as exc:  # noqa: BLE001 - a thread hands any error to the test
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join(0.5)  # on SQLite it waits for the write lock; on PostgreSQL for the device's row
    first.commit()
    first.close()
    t.join(30)
    assert not errors
    with factory() as s:
        d = s.get(Device, "wb-1")
        assert (d.last_seq, d.seq_gaps) == (6, [])


def test_a_refused_fact_leaves_its_seq_as_a_gap(factory, world) -> None:  # type: ignore[no-untyped-def]
    ingest_batch(factory, [incoming(ticket(number="WB-1", seq=1))])
    ingest_batch(factory, [incoming(ticket(number="WB-1", seq=2)), incoming(measurement(seq=3))])
    with factory() as s:
        d = s.get(Device, "wb-1")
        assert (d.last_seq, d.seq_gaps) == (3, [[2, 2]])


def test_a_weighbridge_coming_online_gets_the_stored_tares(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.fleet.models import Vehicle
    from cloud.outbox.models import OutboxJob
    from protocols import decode

    with transaction(factory) as s:
        v = s.get(Vehicle, world.vehicle_id)
        v.stored_tare_kg = Decimal("14220")
    on = Status(message_id=uuid.uuid4(), device_id="wb-1", seq=0, occurred_at=utcnow(), online=True)
    ingest_batch(factory, [Incoming(up_topic("wb-1", "status"), encode(on))])
    with factory() as s:
        job = s.scalars(select(OutboxJob)).one()
    cfg = decode(job.payload)
    assert job.target == "oms/v1/wb-1/down/config" and cfg.type == "config"
    assert [(t.plate, t.stored_tare) for t in cfg.vehicles] == [("BX-123-Z", Decimal("14220"))]


def test_the_ticket_document_is_linked_to_the_order(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.documents.models import Document

    msg = ticket().model_copy(update={"document_sha256": "d" * 64})
    ingest_batch(factory, [incoming(msg)])
    with factory() as s:
        doc = s.scalars(select(Document)).one()
        order = s.scalars(select(Order)).one()
    assert (doc.kind, doc.order_id, doc.stored, doc.filename) == (
        "ticket",
        order.id,
        False,
        "WB-000001.txt",
    )


def test_a_zero_net_weighing_is_flagged(factory, world) -> None:  # type: ignore[no-untyped-def]
    ingest_batch(factory, [incoming(ticket(first="32460", second="32460"))])
    with factory() as s:
        order = s.scalars(select(Order)).one()
    assert order.needs_review and "net weight 0" in order.review_reasons[0]


# -- dead letters: bounded, rate-limited, retained (issue 8, finding 8) ------------------------

MB = 1024 * 1024


def stored_payload_bytes(factory) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(func.coalesce(func.sum(func.length(DeadLetter.payload)), 0))) or 0


def test_fifty_one_megabyte_payloads_add_only_a_bounded_amount(factory, world) -> None:  # type: ignore[no-untyped-def]
    payloads = [bytes([65 + i % 26]) * MB for i in range(50)]
    out = ingest_batch(factory, [Incoming(up_topic("wb-1", "measurement"), p) for p in payloads])
    assert out.dead == 50 and out.suppressed == 0  # within the default 60 per minute
    assert stored_payload_bytes(factory) <= 50 * 4096  # 200 kB kept of the 52 MB sent
    with factory() as s:
        rows = s.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
    assert [(r.reason, r.payload_size) for r in rows] == [("oversize", MB)] * 50
    assert [r.payload_sha256 for r in rows] == [hashlib.sha256(p).hexdigest() for p in payloads]
    assert rows[0].payload == payloads[0][:4096]


def test_dead_lettering_is_rate_limited_per_device_and_counted(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.devices.service import device_statuses
    from cloud.ingest.policy import IngestPolicy

    policy = IngestPolicy(dead_letter_rate_per_device=5, dead_letter_rate_window_s=60)
    t0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
    bad = b'{"type": "weighing", "device_id": "wb-1"}' + b" " * MB

    def flood(n: int, at: datetime) -> object:
        items = [Incoming(up_topic("wb-1", "weighing"), bad, at) for _ in range(n)]
        return ingest_batch(factory, [*items, incoming(measurement(seq=n))], policy=policy)

    first = flood(12, t0)
    assert first.dead == 12 and first.suppressed == 7 and first.stored == 1
    flood(3, t0 + timedelta(seconds=30))  # same window: all counted only
    flood(4, t0 + timedelta(seconds=61))  # a new window
    assert count(factory, DeadLetter) == 5 + 4
    assert stored_payload_bytes(factory) <= 9 * 4096
    with factory() as s:
        (status,) = device_statuses(s, tenant_id=world.tenant_id, device_id="wb-1")
    counts = status.dead_letters
    assert (counts.kept, counts.suppressed) == (9, 10)
    assert counts.last_kept_at == t0 + timedelta(seconds=61)
    assert counts.last_suppressed_at == t0 + timedelta(seconds=30)


def test_the_rate_limit_never_suppresses_a_refused_fact(factory, world) -> None:  # type: ignore[no-untyped-def]
    """Weighings, job updates and PoDs refused by the domain are facts a person must be able to
    find: their dead letters are kept (and counted as kept) past the rate; the limit still
    holds for measurements and for what could not be decoded."""
    from cloud.devices.models import DeadLetterCounter
    from cloud.devices.service import create_device
    from cloud.ingest.policy import IngestPolicy
    from protocols import JobUpdate

    with transaction(factory) as s:
        create_device(
            s, tenant_id=world.tenant_id, device_id="truck-1", kind="truck",
            vehicle_id=world.vehicle_id,
        )  # fmt: skip
    policy = IngestPolicy(dead_letter_rate_per_device=2, dead_letter_rate_window_s=60)
    t0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
    garbage = [Incoming(up_topic("wb-1", "weighing"), b"not json", t0) for _ in range(3)]
    ahead = t0 + timedelta(hours=1)
    future = [
        Incoming(up_topic("wb-1", "measurement"), encode(measurement(seq=i, at=ahead)), t0)
        for i in range(3)
    ]
    updates = [
        JobUpdate(
            message_id=uuid.uuid4(), device_id="wb-1", seq=10 + i, occurred_at=t0,
            job_id="2026-999999", event="completed",
        )
        for i in range(3)
    ]  # fmt: skip
    facts = [incoming(u) for u in updates]
    facts += [incoming(ticket("truck-1", number=f"T-{i}", seq=i)) for i in range(3)]  # not a wb
    for i in facts:
        i.received_at = t0
    out = ingest_batch(factory, [*garbage, *future, *facts], policy=policy)
    assert out.dead == 12 and out.suppressed == 4  # the 3rd garbage, the 3 measurements
    with factory() as s:
        rows = s.scalars(select(DeadLetter).order_by(DeadLetter.id)).all()
        counters = {c.source: (c.kept, c.suppressed) for c in s.scalars(select(DeadLetterCounter))}
    assert sorted(r.reason for r in rows) == sorted(
        ["invalid_json"] * 2 + ["unknown_job"] * 3 + ["not_a_weighbridge"] * 3
    )
    assert counters == {"wb-1": (5, 4), "truck-1": (3, 0)}
    later = [incoming(ticket("truck-1", number="T-9", seq=9))]
    later[0].received_at = t0 + timedelta(seconds=1)  # the same window, already past the rate
    assert ingest_batch(factory, later, policy=policy).suppressed == 0
    assert count(factory, DeadLetter, DeadLetter.reason == "not_a_weighbridge") == 4


def test_a_failing_purge_does_not_stop_the_worker(factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The hourly dead-letter purge is housekeeping: an error in it is logged, and ingest goes
    on (it is tried again at the next turn)."""
    from structlog.testing import capture_logs

    from cloud.ingest import worker as worker_mod
    from cloud.ingest.mqtt import BrokerAddress

    w = worker_mod.IngestWorker(
        worker_mod.IngestConfig(
            address=BrokerAddress("127.0.0.1", 1, False, None, None),
            dispatch=False,
            purge_every_s=0.0,
        ),
        factory,
    )
    calls: list[int] = []

    def purge(*_a: object, **_kw: object) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("column dead_letters.received_at does not exist")
        w.stop()  # the second turn came: the worker survived the first failure
        return 0

    monkeypatch.setattr(worker_mod, "purge_dead_letters", purge)
    with capture_logs() as logs:
        w.run()
    assert len(calls) == 2
    failed = [e for e in logs if e["event"] == "ingest.purge_failed"]
    assert len(failed) == 1 and "RuntimeError" in failed[0]["error"]


def test_unregistered_senders_share_one_bounded_bucket(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.devices.models import UNREGISTERED, DeadLetterCounter
    from cloud.ingest.policy import IngestPolicy

    policy = IngestPolicy(dead_letter_rate_per_device=5)
    ghosts = [incoming(ticket(f"ghost-{i}")) for i in range(40)]  # 40 made-up device ids
    junk = [Incoming(f"oms/v1/ghost-{i}/up/weighing", b"x" * MB) for i in range(10)]
    out = ingest_batch(factory, [*ghosts, *junk], policy=policy)
    assert out.dead == 50 and out.suppressed == 45 and not out.rejected
    assert count(factory, DeadLetter) == 5
    with factory() as s:
        (counter,) = s.scalars(select(DeadLetterCounter)).all()
    assert (counter.source, counter.kept, counter.suppressed) == (UNREGISTERED, 5, 45)


def test_retention_deletes_old_dead_letters_only(factory, world, monkeypatch, db_url) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from cloud.entrypoints.cli import app
    from cloud.ingest.deadletters import purge_dead_letters
    from cloud.settings import get_settings

    now = utcnow()
    ages = (45, 31, 29, 1)
    ingest_batch(factory, [Incoming("bad/topic", b"{}", now - timedelta(days=d)) for d in ages])
    with transaction(factory) as s:
        assert purge_dead_letters(s, older_than_days=30, now=now) == 2
    with factory() as s:
        left = sorted(now - d.received_at for d in s.scalars(select(DeadLetter)))
    assert [delta.days for delta in left] == [1, 29]

    monkeypatch.setenv("OMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(app, ["dead-letters", "purge", "--older-than-days", "7"])
        assert r.exit_code == 0, r.output
        assert "deleted 1 dead letters older than 7 days" in r.output
        r = CliRunner().invoke(app, ["dead-letters", "purge", "--help"])
        assert "OMS_DEAD_LETTER_RETENTION_DAYS" in r.output
    finally:
        get_settings.cache_clear()
    assert count(factory, DeadLetter) == 1


# -- device clocks ahead of ours (issue 8, finding 9) -----------------------------------------

RECEIVED = datetime(2026, 12, 1, 8, tzinfo=UTC)
"""The injected clock: when ingest received the messages below."""


@pytest.mark.parametrize("ahead_s,refused", [(600, False), (601, True)])
def test_a_measurement_from_the_future_is_refused(factory, world, ahead_s, refused) -> None:  # type: ignore[no-untyped-def]
    from cloud.ingest.policy import IngestPolicy

    m = measurement(seq=1, n=3, at=RECEIVED + timedelta(seconds=ahead_s) - timedelta(seconds=0.2))
    m = m.model_copy(update={"occurred_at": RECEIVED})  # only a reading lies ahead
    out = ingest_batch(
        factory,
        [Incoming(up_topic("wb-1", "measurement"), encode(m), RECEIVED)],
        policy=IngestPolicy(device_future_skew_s=600),
    )
    assert (out.dead, out.stored) == ((1, 0) if refused else (0, 1))
    assert count(factory, MeasurementRow) == (0 if refused else 3)
    if refused:
        with factory() as s:
            assert s.scalars(select(DeadLetter)).one().reason == "future_timestamp"
        assert out.rejected["wb-1"][0].message_id == m.message_id


@pytest.mark.parametrize("ahead_s,flagged", [(600, False), (601, True)])
def test_a_ticket_from_the_future_is_kept_and_flagged(factory, world, ahead_s, flagged) -> None:  # type: ignore[no-untyped-def]
    """A weighing is a fact a person must see: never refused for the clock, but flagged."""
    from cloud.ingest.policy import IngestPolicy

    msg = ticket(at=RECEIVED - timedelta(minutes=30)).model_copy(
        update={"occurred_at": RECEIVED + timedelta(seconds=ahead_s)}
    )
    out = ingest_batch(
        factory,
        [Incoming(up_topic("wb-1", "weighing"), encode(msg), RECEIVED)],
        policy=IngestPolicy(device_future_skew_s=600),
    )
    assert out.stored == 1 and out.dead == 0
    with factory() as s:
        order = s.scalars(select(Order)).one()
    assert order.status == "executed" and order.needs_review is flagged
    assert any("device clock ahead" in r for r in order.review_reasons) is flagged


def test_a_heartbeat_from_the_future_is_taken_and_shows_the_drift(factory, world) -> None:  # type: ignore[no-untyped-def]
    hb = Heartbeat(
        message_id=uuid.uuid4(),
        device_id="wb-1",
        seq=0,
        occurred_at=RECEIVED + timedelta(hours=2),
        software_version="0.1.0",
        uptime_s=1,
        outbox_backlog=0,
        outbox_bytes=0,
        outbox_budget_bytes=1000,
    )
    out = ingest_batch(factory, [Incoming(up_topic("wb-1", "heartbeat"), encode(hb), RECEIVED)])
    assert out.dead == 0
    with factory() as s:
        assert s.get(Device, "wb-1").clock_offset_s == 7200


# -- which orders a weighbridge may complete (issue 8, finding 3) ------------------------------


def _planned(factory, world, *, site_id: int | None) -> int:  # type: ignore[no-untyped-def]
    from cloud.orders.lifecycle import OrderStatus
    from cloud.orders.schemas import OrderCreate
    from cloud.orders.service import change_status, create_order

    with transaction(factory) as s:
        o = create_order(
            s,
            tenant_id=world.tenant_id,
            source="manual",
            data=OrderCreate(
                customer_id=world.customer_id,
                order_type="bulk_transport",
                vehicle_id=world.vehicle_id,
                site_id=site_id,
                requested_date=datetime(2026, 11, 27).date(),
            ),
        )
        change_status(s, order=o, to=OrderStatus.PLANNED, by_user_id=world.user_id)
        return o.id


def test_a_weighbridge_completes_only_orders_planned_for_its_site(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.customers.models import Site
    from cloud.devices.service import create_device

    with transaction(factory) as s:
        other = Site(tenant_id=world.tenant_id, name="other yard", kind="own_yard")
        s.add(other)
        s.flush()
        create_device(
            s, tenant_id=world.tenant_id, device_id="wb-2", kind="weighbridge", site_id=other.id
        )
        create_device(s, tenant_id=world.tenant_id, device_id="wb-nosite", kind="weighbridge")
    planned = _planned(factory, world, site_id=world.site_id)
    ingest_batch(factory, [incoming(ticket("wb-2", number="B-1"))])
    ingest_batch(factory, [incoming(ticket("wb-nosite", number="N-1"))])
    with factory() as s:
        assert s.get(Order, planned).status == "planned"  # neither may complete it
        walk_ins = s.scalars(select(Order).where(Order.id != planned).order_by(Order.id)).all()
    assert [(o.order_type, o.status) for o in walk_ins] == [("walk_in", "executed")] * 2
    assert not walk_ins[0].needs_review
    assert walk_ins[1].needs_review and "has no site" in walk_ins[1].review_reasons[0]
    ingest_batch(factory, [incoming(ticket("wb-1", number="A-1"))])  # its own site's weighbridge
    with factory() as s:
        assert s.get(Order, planned).status == "executed"


def test_a_ticket_from_a_truck_is_refused(factory, world) -> None:  # type: ignore[no-untyped-def]
    from cloud.devices.service import create_device

    with transaction(factory) as s:
        create_device(
            s, tenant_id=world.tenant_id, device_id="truck-1", kind="truck",
            vehicle_id=world.vehicle_id,
        )  # fmt: skip
    planned = _planned(factory, world, site_id=None)
    out = ingest_batch(factory, [incoming(ticket("truck-1"))])
    assert out.dead == 1 and out.rejected["truck-1"]
    with factory() as s:
        assert s.scalars(select(DeadLetter)).one().reason == "not_a_weighbridge"
        assert s.get(Order, planned).status == "planned"
    assert count(factory, Weighing) == 0


def test_a_ticket_cannot_take_a_document_of_another_order(factory, world) -> None:  # type: ignore[no-untyped-def]
    """The ticket is a fact: kept and its order executed; the document stays with the order
    it belongs to, and the new order is flagged with the reason."""
    from cloud.documents.models import Document

    doc = "d" * 64
    ingest_batch(
        factory, [incoming(ticket(number="T-1").model_copy(update={"document_sha256": doc}))]
    )
    again = ticket(number="T-2", seq=2).model_copy(update={"document_sha256": doc})
    out = ingest_batch(factory, [incoming(again)])
    assert out.dead == 0 and out.stored == 1
    assert count(factory, DeadLetter) == 0
    assert count(factory, Order) == 2 and count(factory, Weighing) == 2
    with factory() as s:
        first, second = s.scalars(select(Order).order_by(Order.id)).all()
        assert s.scalars(select(Document)).one().order_id == first.id
        assert second.status == "executed" and second.needs_review
        assert any(doc in r and "not linked" in r for r in second.review_reasons)
        assert s.scalars(select(Weighing).where(Weighing.order_id == second.id)).one()


def test_a_ticket_naming_the_office_s_file_is_kept_and_flagged(factory, world) -> None:  # type: ignore[no-untyped-def]
    """The office uploaded the same bytes first: the ticket still counts, nothing moves."""
    from cloud.documents.models import Document
    from cloud.documents.service import upsert as upsert_document

    doc = "e" * 64
    with transaction(factory) as s:
        upsert_document(
            s, tenant_id=world.tenant_id, sha256=doc, kind="ticket", filename="scan.pdf",
            content_type="application/pdf", size=10, user_id=world.user_id, stored=True,
        )  # fmt: skip
    t = ticket().model_copy(update={"document_sha256": doc})
    out = ingest_batch(factory, [incoming(t)])
    assert out.dead == 0 and out.stored == 1 and out.committed["wb-1"] == [t.message_id]
    with factory() as s:
        d = s.scalars(select(Document)).one()
        assert (d.order_id, d.device_id) == (None, None)
        order = s.scalars(select(Order)).one()
        assert order.status == "executed" and order.needs_review
        assert any(doc in r for r in order.review_reasons)


def test_the_policy_comes_from_the_settings() -> None:
    from cloud.ingest.policy import IngestPolicy
    from cloud.settings import Settings

    settings = Settings(
        device_future_skew_s=5,
        dead_letter_payload_prefix_bytes=100,
        dead_letter_rate_per_device=2,
        dead_letter_rate_window_s=3,
        dead_letter_retention_days=4,
    )
    assert IngestPolicy.from_settings(settings) == IngestPolicy(5, 100, 2, 3, 4)


def test_a_weighing_at_another_customers_site_is_flagged_not_refused(factory, world) -> None:  # type: ignore[no-untyped-def]
    """The office may not put a site of customer X on an order of customer Y, but a weight on
    the scale is a fact: intake keeps it and puts the mismatch in front of a person."""
    from cloud.customers.models import Site
    from cloud.customers.service import create_customer
    from cloud.devices.service import create_device

    with transaction(factory) as s:
        other = create_customer(s, tenant_id=world.tenant_id, number="2002", name="Processor")
        site = Site(tenant_id=world.tenant_id, name="processor yard", customer_id=other.id)
        s.add(site)
        s.flush()
        create_device(
            s, tenant_id=world.tenant_id, device_id="wb-proc", kind="weighbridge", site_id=site.id
        )
        site_id = site.id
    out = ingest_batch(factory, [incoming(ticket("wb-proc", number="P-1"))])
    assert out.dead == 0 and out.stored == 1
    with factory() as s:
        order = s.scalars(select(Order)).one()
    assert (order.status, order.customer_id, order.site_id) == (
        "executed",
        world.customer_id,
        site_id,
    )
    assert order.needs_review
    assert any("belongs to customer" in r for r in order.review_reasons)
