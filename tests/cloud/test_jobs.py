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
from cloud.documents.service import DocumentInUse, DocumentOwnedByOther
from cloud.documents.service import upsert as upsert_document
from cloud.fleet.service import create_vehicle
from cloud.ingest.models import DeadLetter
from cloud.ingest.pipeline import Incoming
from cloud.ingest.policy import IngestPolicy
from cloud.ingest.runner import ingest_batch
from cloud.jobs.models import JobAssignment, JobEvent
from cloud.jobs.models import ProofOfDelivery as PodRow
from cloud.jobs.service import dispatch_order
from cloud.orders.models import Order
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import create_order, review_window
from cloud.outbox.models import OutboxJob
from protocols import (
    Attachment,
    JobUpdate,
    JobWeight,
    ProofOfDelivery,
    decode,
    encode,
    up_topic,
)
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


def dispatch(factory, setup) -> None:  # type: ignore[no-untyped-def]
    w, order_id, _ = setup
    with transaction(factory) as s:
        dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)


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
    dispatch(factory, setup)
    done = update(number, "completed", 1)
    proof = pod(number, 2, signature=False)
    ingest_batch(factory, [incoming(done)])
    with factory() as s:
        assert s.get(Order, order_id).status == "planned"
    ingest_batch(factory, [incoming(proof)])
    ingest_batch(factory, [incoming(done), incoming(proof)])  # redelivered
    with factory() as s:
        o = s.get(Order, order_id)
    assert o.status == "executed" and o.review_reasons == ["no signature on the proof of delivery"]


def test_failed_job_goes_to_review(factory, setup) -> None:  # type: ignore[no-untyped-def]
    _, order_id, number = setup
    dispatch(factory, setup)
    ingest_batch(factory, [incoming(update(number, "failed", 1, reason="container blocked"))])
    with factory() as s:
        o = s.get(Order, order_id)
    assert o.status == "planned" and o.needs_review and "container blocked" in o.review_reasons[0]


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


# -- who may report on a job (issue 8, finding 3) ----------------------------------------------


@pytest.fixture
def truck2(factory, setup) -> int:  # type: ignore[no-untyped-def]
    """A second truck of the same tenant, on its own vehicle; returns that vehicle's id."""
    w, _, _ = setup
    with transaction(factory) as s:
        v = create_vehicle(s, tenant_id=w.tenant_id, plate="BX-456-Z", customer_id=w.customer_id)
        create_device(s, tenant_id=w.tenant_id, device_id="truck-2", kind="truck", vehicle_id=v.id)
        return v.id


def new_order(factory, w, *, vehicle_id: int | None = None) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        o = create_order(
            s,
            tenant_id=w.tenant_id,
            source="manual",
            data=OrderCreate(
                customer_id=w.customer_id,
                order_type="container_place",
                vehicle_id=vehicle_id or w.vehicle_id,
                site_id=w.site_id,
            ),
        )
        return o.id, o.number


def from_(device_id: str, msg):  # type: ignore[no-untyped-def]
    return msg.model_copy(update={"device_id": device_id})


def reasons(factory) -> list[str]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return [d.reason for d in s.scalars(select(DeadLetter).order_by(DeadLetter.id))]


def test_a_truck_may_report_only_on_jobs_dispatched_to_it(factory, setup, truck2) -> None:  # type: ignore[no-untyped-def]
    _w, order_id, number = setup
    dispatch(factory, setup)  # to truck-1
    intruder = [from_("truck-2", pod(number, 1)), from_("truck-2", update(number, "completed", 2))]
    out = ingest_batch(factory, [incoming(m) for m in intruder])
    assert out.dead == 2 and out.stored == 0 and not out.committed
    assert {r.message_id for r in out.rejected["truck-2"]} == {m.message_id for m in intruder}
    assert reasons(factory) == ["job_not_dispatched", "job_not_dispatched"]
    with factory() as s:
        o = s.get(Order, order_id)
        assert o.status == "planned" and not o.needs_review
        assert s.scalars(select(JobEvent)).all() == []
        assert s.scalars(select(PodRow)).all() == [] and s.scalars(select(Document)).all() == []


def test_redispatch_to_another_truck_withdraws_the_job(factory, setup, truck2) -> None:  # type: ignore[no-untyped-def]
    w, order_id, number = setup
    dispatch(factory, setup)
    with transaction(factory) as s:
        s.get(Order, order_id).vehicle_id = truck2
        msg = dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)
    assert msg.device_id == "truck-2"
    with factory() as s:
        sent = [decode(j.payload) for j in s.scalars(select(OutboxJob).order_by(OutboxJob.id))]
        withdrawn = s.scalars(
            select(JobAssignment).where(JobAssignment.device_id == "truck-1")
        ).one()
    assert [(m.device_id, m.action) for m in sent] == [
        ("truck-1", "upsert"),
        ("truck-1", "cancel"),
        ("truck-2", "upsert"),
    ]
    assert withdrawn.withdrawn_at is not None
    before = update(number, "arrived", 1)  # T: before the withdrawal (just now)
    after = update(number, "completed", 2).model_copy(
        update={"occurred_at": withdrawn.withdrawn_at + timedelta(seconds=1)}
    )
    out = ingest_batch(factory, [incoming(before), incoming(after)])
    assert out.stored == 1 and out.committed["truck-1"] == [before.message_id]
    assert reasons(factory) == ["job_not_dispatched"]
    mine = [from_("truck-2", update(number, "completed", 3)), from_("truck-2", pod(number, 4))]
    assert ingest_batch(factory, [incoming(m) for m in mine]).stored == 2
    with factory() as s:
        assert s.get(Order, order_id).status == "executed"


def test_a_pod_cannot_move_a_document_from_another_order(factory, setup) -> None:  # type: ignore[no-untyped-def]
    """The same photo and signature named for a second order: the PoD is kept and the order
    settled, the files stay with the first order, and the second order is flagged."""
    w, first_id, first = setup
    dispatch(factory, setup)
    second_id, second = new_order(factory, w)
    with transaction(factory) as s:
        dispatch_order(s, tenant_id=w.tenant_id, order_id=second_id, by_user_id=w.user_id)
    assert ingest_batch(factory, [incoming(pod(first, 1))]).stored == 1
    stolen = [pod(second, 2), update(second, "completed", 3)]  # the same photo and signature
    out = ingest_batch(factory, [incoming(m) for m in stolen])
    assert out.stored == 2 and out.dead == 0 and reasons(factory) == []
    with factory() as s:
        assert {d.order_id for d in s.scalars(select(Document))} == {first_id}
        assert len(s.scalars(select(PodRow).where(PodRow.order_id == second_id)).all()) == 1
        o = s.get(Order, second_id)
        assert o.status == "executed" and o.needs_review
        assert len(o.review_reasons) == 2  # the signature and the photo, each with its reason
        assert all("not linked" in r and "DocumentInUse" not in r for r in o.review_reasons)
        assert any(SIG.sha256 in r for r in o.review_reasons)
        assert any(PHOTO.sha256 in r for r in o.review_reasons)
        assert not s.get(Order, first_id).needs_review


def test_a_pod_may_only_name_files_the_truck_uploaded(factory, setup, truck2) -> None:  # type: ignore[no-untyped-def]
    w, order_id, number = setup
    dispatch(factory, setup)
    with transaction(factory) as s:  # truck-2 uploaded a photo (no message named it yet)
        upsert_document(
            s, tenant_id=w.tenant_id, sha256=PHOTO.sha256, kind="photo", filename="x.jpg",
            content_type="image/jpeg", size=10, device_id="truck-2", stored=True,
        )  # fmt: skip
    out = ingest_batch(
        factory, [incoming(pod(number, 1)), incoming(update(number, "completed", 2))]
    )
    assert out.dead == 0 and out.stored == 2 and reasons(factory) == []
    with factory() as s:
        doc = s.scalars(select(Document).where(Document.sha256 == PHOTO.sha256)).one()
        assert (doc.device_id, doc.order_id) == ("truck-2", None)
        sig = s.scalars(select(Document).where(Document.sha256 == SIG.sha256)).one()
        assert (sig.device_id, sig.order_id) == ("truck-1", order_id)  # its own file: linked
        assert len(s.scalars(select(PodRow)).all()) == 1
        o = s.get(Order, order_id)
        assert o.status == "executed" and o.needs_review
        (why,) = o.review_reasons
        assert PHOTO.sha256 in why and "not linked" in why


def test_another_device_s_upload_does_not_take_a_reference_over(factory, setup, truck2) -> None:  # type: ignore[no-untyped-def]
    w, order_id, number = setup
    dispatch(factory, setup)
    ingest_batch(factory, [incoming(pod(number, 1))])  # names the photo before its upload
    upload = dict(
        tenant_id=w.tenant_id, sha256=PHOTO.sha256, kind="photo", filename="p1.jpg",
        content_type="image/jpeg", size=2000, stored=True,
    )  # fmt: skip
    with pytest.raises(DocumentOwnedByOther), transaction(factory) as s:
        upsert_document(s, **upload, device_id="truck-2")
    with transaction(factory) as s:
        upsert_document(s, **upload, device_id="truck-1")  # its own upload completes the row
    with factory() as s:
        doc = s.scalars(select(Document).where(Document.sha256 == PHOTO.sha256)).one()
    assert (doc.device_id, doc.order_id, doc.stored) == ("truck-1", order_id, True)


def test_the_office_cannot_move_a_document_to_another_order(factory, setup) -> None:  # type: ignore[no-untyped-def]
    w, order_id, number = setup
    dispatch(factory, setup)
    ingest_batch(factory, [incoming(pod(number, 1))])
    other_id, _ = new_order(factory, w)
    office = dict(
        tenant_id=w.tenant_id, sha256=PHOTO.sha256, kind="photo", filename="p1.jpg",
        content_type="image/jpeg", size=2000, user_id=w.user_id, stored=True,
    )  # fmt: skip
    with pytest.raises(DocumentInUse) as err, transaction(factory) as s:
        upsert_document(s, **office, order_id=other_id)
    assert err.value.status_code == 409
    with transaction(factory) as s:  # the same order again is fine (idempotent)
        assert upsert_document(s, **office, order_id=order_id).order_id == order_id


# -- device clocks ahead of ours (issue 8, finding 9) -----------------------------------------


@pytest.mark.parametrize("ahead_s,flagged", [(600, False), (601, True)])
def test_a_job_report_from_the_future_is_kept_and_flagged(factory, setup, ahead_s, flagged) -> None:  # type: ignore[no-untyped-def]
    """The completion is a fact the office must see: stored, and the order flagged when the
    device clock is more than ``device_future_skew_s`` (600 s) ahead of our reception."""
    _w, order_id, number = setup
    dispatch(factory, setup)
    received = T  # the injected clock: when ingest received the messages
    msgs = [
        pod(number, 1).model_copy(update={"occurred_at": received}),
        update(number, "completed", 2).model_copy(
            update={"occurred_at": received + timedelta(seconds=ahead_s)}
        ),
    ]
    out = ingest_batch(
        factory,
        [Incoming(up_topic("truck-1", m.type), encode(m), received) for m in msgs],
        policy=IngestPolicy(device_future_skew_s=600),
    )
    assert out.stored == 2 and out.dead == 0
    with factory() as s:
        o = s.get(Order, order_id)
    assert o.status == "executed" and o.needs_review is flagged
    assert any("device clock ahead" in r for r in o.review_reasons) is flagged


def test_dispatch_never_sends_another_tenant_s_site(factory, setup) -> None:  # type: ignore[no-untyped-def]
    """Issue 8, finding 1: an order row naming another tenant's site (written before intake
    resolved references) is refused at dispatch, naming the field; nothing is queued."""
    from cloud.customers.models import Site
    from cloud.references import UnknownReference
    from tests.support.factories import create_world

    w, order_id, _ = setup
    with transaction(factory) as s:
        other = create_world(s, slug="globex", device_id="wb-globex")
        foreign = Site(tenant_id=other.tenant_id, name="Globex depot", street="Geheim 1")
        s.add(foreign)
        s.flush()
        s.get(Order, order_id).site_id = foreign.id
    with pytest.raises(UnknownReference) as err, transaction(factory) as s:
        dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)
    assert err.value.field == "site_id"
    with factory() as s:
        assert s.scalars(select(OutboxJob)).all() == []
        assert s.get(Order, order_id).status == "created"


def test_an_order_written_under_the_old_limits_is_dispatched_cut_to_the_contract(
    factory, setup
) -> None:  # type: ignore[no-untyped-def]
    """Issue 8: rows the schema allowed before (material up to 100 characters, a blank
    container type, notes up to 4000) made ``protocols.Job`` raise, a 500 at dispatch."""
    from sqlalchemy import update as sql_update

    w, order_id, _ = setup
    material = "gemengd bouw- en sloopafval, " + "m" * 70  # 99 characters
    notes = "Bel bij de poort.\nSleutel bij de buren.\n" + "x" * 3960  # 4000 characters
    with transaction(factory) as s:
        s.execute(
            sql_update(Order)
            .where(Order.id == order_id)
            .values(material=material, container_type="   ", notes=notes)
        )
    with transaction(factory) as s:
        msg = dispatch_order(s, tenant_id=w.tenant_id, order_id=order_id, by_user_id=w.user_id)
    with factory() as s:
        (sent,) = [decode(j.payload) for j in s.scalars(select(OutboxJob))]
    assert sent == msg and msg.job is not None
    assert msg.job.material == material[:64]
    assert msg.job.container_type is None
    assert msg.job.instructions == notes[:2000]  # line breaks kept for the driver
    with factory() as s:
        assert s.get(Order, order_id).status == "planned"
