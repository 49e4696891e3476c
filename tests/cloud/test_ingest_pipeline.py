"""Ingest batches against the real database (SQLite and PostgreSQL + TimescaleDB)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
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
    assert dl.reason == reason and dl.payload == payload and dl.detail
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
