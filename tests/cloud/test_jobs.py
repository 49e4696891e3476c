"""Jobs for trucks: dispatch through the outbox; job updates and proofs of delivery execute
orders (SQLite and PostgreSQL + TimescaleDB)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from cloud.db import transaction
from cloud.devices.service import create_device
from cloud.documents.models import Document
from cloud.ingest.models import DeadLetter
from cloud.ingest.runner import ingest_batch
from cloud.jobs.service import dispatch_order
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order, review_window
from cloud.outbox.models import OutboxJob
from protocols import Attachment, JobUpdate, JobWeight, ProofOfDelivery, decode
from tests.support.factories import create_world, incoming, measurement

pytestmark = pytest.mark.integration
T = datetime(2026, 11, 27, 9, tzinfo=UTC)
SIG = Attachment(sha256="a" * 64, content_type="image/png", size=100, filename="signature.png")
PHOTO = Attachment(
    sha256="b" * 64,
    content_type="image/jpeg",
    size=2000,
    filename="p1.jpg",
    original_sha256="c" * 64,
)


@pytest.fixture
def setup(factory):  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        w = create_world(s)
        create_device(
            s, tenant_id=w.tenant_id, device_id="truck-1", kind="truck", vehicle_id=w.vehicle_id
        )
        order = create_order(
            s,
            tenant_id=w.tenant_id,
            source="manual",
            by_user_id=w.user_id,
            data=OrderCreate(
                customer_id=w.customer_id,
                order_type="container_exchange",
                vehicle_id=w.vehicle_id,
                site_id=w.site_id,
                container_type="10 m3",
                notes="achter de keet",
            ),
        )
        return w, order.id, order.number


def update(job: str, event: str, seq: int, **kw) -> JobUpdate:  # type: ignore[no-untyped-def]
    return JobUpdate(
        message_id=uuid.uuid4(),
        device_id="truck-1",
        seq=seq,
        occurred_at=T + timedelta(minutes=seq),
        job_id=job,
        event=event,
        **kw,
    )


def pod(job: str, seq: int, *, signature: bool = True) -> ProofOfDelivery:
    return ProofOfDelivery(
        message_id=uuid.uuid4(),
        device_id="truck-1",
        seq=seq,
        occurred_at=T + timedelta(minutes=seq),
        job_id=job,
        signer_name="J. Klant",
        signature=SIG if signature else None,
        photos=[PHOTO],
    )


def test_dispatch_plans_the_order_and_queues_the_job(factory, setup) -> None:  # type: ignore[no-untyped-def]
    w, order_id, number = setup
    with transaction(factory) as s:
        msg = dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)
    with factory() as s:
        assert s.get(Order, order_id).status == "planned"
        job = s.scalars(select(OutboxJob)).one()
    assert job.target == "oms/v1/truck-1/down/job" and job.done_at is None
    sent = decode(job.payload)
    assert sent == msg and sent.job.order_number == number and sent.job.kind == "exchange"
    assert sent.job.instructions == "achter de keet"


def test_completed_job_with_pod_executes_the_order(factory, setup) -> None:  # type: ignore[no-untyped-def]
    w, order_id, number = setup
    with transaction(factory) as s:
        dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)
    weights = [
        JobWeight(at=T, value=Decimal("1180"), unit="kg", mode="net", tag_id="999000001234567"),
        JobWeight(at=T, value=Decimal("0.42"), unit="t", mode="net"),
    ]
    msgs = [
        update(number, "arrived", 1),
        update(number, "started", 2),
        pod(number, 3),
        update(number, "completed", 4, counts={"containers_placed": 1}, weights=weights),
    ]
    out = ingest_batch(factory, [incoming(m) for m in msgs[:3]])
    assert out.stored == 3
    with factory() as s:
        assert s.get(Order, order_id).status == "planned"  # not yet completed
    ingest_batch(factory, [incoming(msgs[3])])
    with factory() as s:
        o = s.get(Order, order_id)
        docs = s.scalars(select(Document).order_by(Document.kind)).all()
        window = review_window(s, order=o)
    assert o.status == "executed" and not o.needs_review
    assert o.actual_quantity_kg == Decimal("1600.00") and o.actual_counts == {
        "containers_placed": 1
    }
    assert [(d.kind, d.order_id, d.stored) for d in docs] == [
        ("photo", order_id, False),
        ("signature", order_id, False),
    ]
    assert docs[0].original_sha256 == "c" * 64
    assert window is not None and window[0] == "truck-1"


def test_pod_after_completion_also_executes_and_replays_change_nothing(factory, setup) -> None:  # type: ignore[no-untyped-def]
    _w, order_id, number = setup
    done = update(number, "completed", 1)
    proof = pod(number, 2, signature=False)
    ingest_batch(factory, [incoming(done)])
    with factory() as s:
        assert s.get(Order, order_id).status == "created"
    ingest_batch(factory, [incoming(proof)])
    ingest_batch(factory, [incoming(done), incoming(proof)])  # redelivered
    with factory() as s:
        o = s.get(Order, order_id)
    assert o.status == "executed" and o.review_reasons == ["no signature on the proof of delivery"]


def test_failed_job_goes_to_review(factory, setup) -> None:  # type: ignore[no-untyped-def]
    _, order_id, number = setup
    ingest_batch(factory, [incoming(update(number, "failed", 1, reason="container blocked"))])
    with factory() as s:
        o = s.get(Order, order_id)
    assert o.status == "created" and o.needs_review and "container blocked" in o.review_reasons[0]


def test_unknown_job_is_dead_lettered_and_rejected(factory, setup) -> None:  # type: ignore[no-untyped-def]
    msg = update("NO-SUCH", "completed", 1)
    m = measurement("truck-1", seq=2)
    out = ingest_batch(factory, [incoming(msg), incoming(m)])
    assert out.stored == 1 and out.dead == 1
    assert out.rejected["truck-1"][0].message_id == msg.message_id
    with factory() as s:
        dl = s.scalars(select(DeadLetter)).one()
    assert dl.reason == "unknown_job"
    again = ingest_batch(factory, [incoming(msg)])  # not recorded as committed: refused again
    assert again.dead == 1 and not again.committed


def test_outbox_delivery_marks_done_only_when_sent(factory, setup) -> None:  # type: ignore[no-untyped-def]
    from cloud.outbox.service import MQTT_PUBLISH, deliver_pending

    w, order_id, _ = setup
    with transaction(factory) as s:
        dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)

    def broken(_job: OutboxJob) -> None:
        raise ConnectionError("broker down")

    assert deliver_pending(factory, kind=MQTT_PUBLISH, send=broken) == 0
    sent: list[bytes] = []
    assert deliver_pending(factory, kind=MQTT_PUBLISH, send=lambda j: sent.append(j.payload)) == 1
    assert deliver_pending(factory, kind=MQTT_PUBLISH, send=lambda j: sent.append(j.payload)) == 0
    with factory() as s:
        job = s.scalars(select(OutboxJob)).one()
    assert job.attempts == 2 and job.done_at is not None and len(sent) == 1
