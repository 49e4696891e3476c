"""Every device message kind, for a job or an order that was not given to that device (issue 8,
finding 3): each is dead-lettered with its reason and rejected to the device, the order is left
as it was and no document changes hands. A file a device may not claim, named in a fact (a
weighing, a PoD), leaves the file alone and flags the order; the fact itself is kept. Through
the real ingest pipeline on SQLite and on PostgreSQL + TimescaleDB, and once through a real
Mosquitto with the ingest worker.

Two tenants, acme and globex, each with a truck that has an order dispatched to it, a second
truck, a weighbridge at its yard, a second weighbridge elsewhere, an order planned for the
yard, and a photo already on the dispatched order. Order numbers are per tenant, so both
tenants have an order with the same number: a reference never crosses the tenant boundary.

What a message kind may refer to is written down in ``cloud/ingest/pipeline.py``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.customers.models import Site
from cloud.db import transaction
from cloud.devices.service import create_device
from cloud.documents.models import Document
from cloud.documents.service import upsert as upsert_document
from cloud.fleet.service import create_vehicle
from cloud.ingest.models import DeadLetter
from cloud.ingest.mqtt import parse_mqtt_url
from cloud.ingest.pipeline import Incoming
from cloud.ingest.runner import ingest_batch
from cloud.ingest.worker import IngestConfig, IngestWorker
from cloud.jobs.models import JobEvent
from cloud.jobs.models import ProofOfDelivery as PodRow
from cloud.jobs.service import dispatch_order
from cloud.orders.lifecycle import OrderStatus
from cloud.orders.models import Order, OrderStatusChange
from cloud.orders.schemas import OrderCreate
from cloud.orders.service import change_status, create_order
from cloud.weighings.models import Weighing
from protocols import (
    Attachment,
    Envelope,
    JobUpdate,
    Measurement,
    ProofOfDelivery,
    WeighingTicket,
    WeightReading,
    decode,
    encode,
    up_topic,
)
from tests.support.factories import create_world, ticket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

T = datetime(2026, 11, 27, 9, tzinfo=UTC)
DAY = T.date()


@dataclass
class Tenant:
    slug: str
    tenant_id: int
    dispatched_id: int
    """Dispatched to ``truck-<slug>``."""
    number: str
    planned_id: int
    """Planned for ``wb-<slug>``'s yard and the truck's vehicle, not dispatched."""
    photo: str
    """sha256 of a photo ``truck-<slug>`` put on the dispatched order."""
    office_file: str
    """sha256 of a file the office uploaded (on no order)."""


def _tenant(session: Session, slug: str) -> Tenant:
    w = create_world(session, slug=slug, device_id=f"wb-{slug}")
    elsewhere = Site(tenant_id=w.tenant_id, name="elsewhere", kind="own_yard")
    session.add(elsewhere)
    session.flush()
    create_device(
        session,
        tenant_id=w.tenant_id,
        device_id=f"wb-{slug}-2",
        kind="weighbridge",
        site_id=elsewhere.id,
    )
    create_device(
        session, tenant_id=w.tenant_id, device_id=f"truck-{slug}", kind="truck",
        vehicle_id=w.vehicle_id,
    )  # fmt: skip
    other = create_vehicle(session, tenant_id=w.tenant_id, plate=f"{slug[:2]}-2-T")
    create_device(
        session, tenant_id=w.tenant_id, device_id=f"truck-{slug}-2", kind="truck",
        vehicle_id=other.id,
    )  # fmt: skip

    def order(**kw: Any) -> Order:
        return create_order(
            session,
            tenant_id=w.tenant_id,
            source="manual",
            by_user_id=w.user_id,
            data=OrderCreate(customer_id=w.customer_id, vehicle_id=w.vehicle_id, **kw),
        )

    dispatched = order(order_type="container_place", site_id=w.site_id)
    dispatch_order(session, tenant_id=w.tenant_id, order_id=dispatched.id, by_user_id=w.user_id)
    planned = order(order_type="bulk_transport", site_id=w.site_id, requested_date=DAY)
    change_status(session, order=planned, to=OrderStatus.PLANNED, by_user_id=w.user_id)
    photo = f"{slug[0]}{'1' * 63}"
    office_file = f"{slug[0]}{'2' * 63}"
    common = dict(kind="photo", filename="f.jpg", content_type="image/jpeg", size=10, stored=True)
    upsert_document(
        session, tenant_id=w.tenant_id, sha256=photo, order_id=dispatched.id,
        device_id=f"truck-{slug}", **common,
    )  # fmt: skip
    upsert_document(session, tenant_id=w.tenant_id, sha256=office_file, user_id=w.user_id, **common)
    return Tenant(
        slug, w.tenant_id, dispatched.id, dispatched.number, planned.id, photo, office_file
    )


@pytest.fixture
def world(factory: sessionmaker[Session]) -> tuple[Tenant, Tenant]:
    with transaction(factory) as s:
        acme = _tenant(s, "acme")
        globex = _tenant(s, "globex")
    assert acme.number == globex.number  # per-tenant numbering: the same job id in both
    return acme, globex


# -- messages ----------------------------------------------------------------------------------


def _env(device: str) -> dict[str, Any]:
    return {"message_id": uuid.uuid4(), "device_id": device, "seq": 1, "occurred_at": T}


def completed(device: str, job: str) -> JobUpdate:
    return JobUpdate(**_env(device), job_id=job, event="completed", counts={"containers": 1})


def failed(device: str, job: str) -> JobUpdate:
    return JobUpdate(**_env(device), job_id=job, event="failed", reason="blocked")


def pod(device: str, job: str, *files: str) -> ProofOfDelivery:
    photos = [
        Attachment(sha256=f, content_type="image/jpeg", size=10, filename="p.jpg") for f in files
    ]
    return ProofOfDelivery(**_env(device), job_id=job, signer_name="X", photos=photos)


def weighing(device: str, *, document: str | None = None) -> Envelope:
    """A ticket for the tenant's vehicle (card ``000414CD7E``) on the planned order's day."""
    msg = ticket(device, at=T - timedelta(hours=1), message_id=uuid.uuid4())
    return msg.model_copy(update={"document_sha256": document})


def spoofed_measurement(topic_device: str, claimed: str) -> Measurement:
    return Measurement(
        **_env(claimed),
        readings=[WeightReading(at=T, channel="bridge", value=1000, unit="kg")],
    )


@dataclass
class Case:
    name: str
    build: Callable[[Tenant, Tenant], tuple[str, Envelope]]
    """(topic device, message) against acme, with globex as the other tenant."""
    reason: str


CASES = [
    # job-update / pod: only from the device the job was dispatched to
    Case("job-update from another truck", lambda a, b: ("truck-acme-2", completed("truck-acme-2", a.number)), "job_not_dispatched"),  # noqa: E501
    Case("failed job from another truck", lambda a, b: ("truck-acme-2", failed("truck-acme-2", a.number)), "job_not_dispatched"),  # noqa: E501
    Case("pod from another truck", lambda a, b: ("truck-acme-2", pod("truck-acme-2", a.number)), "job_not_dispatched"),  # noqa: E501
    Case("job-update from a weighbridge", lambda a, b: ("wb-acme", completed("wb-acme", a.number)), "job_not_dispatched"),  # noqa: E501
    Case("job-update on an order never dispatched", lambda a, b: ("truck-acme", completed("truck-acme", _number(a.planned_id))), "job_not_dispatched"),  # noqa: E501
    Case("job-update from another tenant's truck", lambda a, b: ("truck-globex-2", completed("truck-globex-2", a.number)), "job_not_dispatched"),  # noqa: E501
    Case("pod from another tenant's truck, with acme's photo", lambda a, b: ("truck-globex-2", pod("truck-globex-2", a.number, a.photo)), "job_not_dispatched"),  # noqa: E501
    Case("job-update for a number no order has", lambda a, b: ("truck-acme", completed("truck-acme", "1999-999999")), "unknown_job"),  # noqa: E501
    # weighing: only a weighbridge, orders at its own site
    Case("weighing from a truck", lambda a, b: ("truck-acme", weighing("truck-acme")), "not_a_weighbridge"),  # noqa: E501
    # presence and measurements refer to nothing but their sender
    Case("measurement claiming another device", lambda a, b: ("truck-acme-2", spoofed_measurement("truck-acme-2", "truck-acme")), "topic_mismatch"),  # noqa: E501
]  # fmt: skip

# Files: a device links only its own files, never one of another order. A file it may not
# claim does not make the fact it came with a refusal: the weighing or PoD is kept, the file
# stays where it was, and the order is flagged with the reason (the reason names the file).
DOCUMENT_CASES = [
    Case("pod naming another order's photo", lambda a, b: ("truck-acme", pod("truck-acme", _number(a.planned_id, dispatch=True), a.photo)), "document_in_use"),  # noqa: E501
    Case("pod naming the office's file", lambda a, b: ("truck-acme", pod("truck-acme", a.number, a.office_file)), "document_owned_by_other"),  # noqa: E501
    Case("pod naming another truck's upload", lambda a, b: ("truck-acme", pod("truck-acme", a.number, _upload(a, "truck-acme-2"))), "document_owned_by_other"),  # noqa: E501
    Case("weighing naming a truck's photo", lambda a, b: ("wb-acme", weighing("wb-acme", document=a.photo)), "document_owned_by_other"),  # noqa: E501
]  # fmt: skip

_session: Session | None = None
"""The session the case builders may use to prepare (set while building)."""


def _number(order_id: int, *, dispatch: bool = False) -> str:
    assert _session is not None
    order = _session.get(Order, order_id)
    assert order is not None
    if dispatch:
        dispatch_order(_session, tenant_id=order.tenant_id, order_id=order.id, by_user_id=None)
    return order.number


def _upload(t: Tenant, device: str) -> str:
    assert _session is not None
    digest = uuid.uuid4().hex * 2
    upsert_document(
        _session, tenant_id=t.tenant_id, sha256=digest, kind="photo", filename="u.jpg",
        content_type="image/jpeg", size=10, device_id=device, stored=True,
    )  # fmt: skip
    return digest


def snapshot(factory: sessionmaker[Session]) -> dict[str, Any]:
    """Everything a device message could change: orders, their history, documents, facts."""
    with factory() as s:
        return {
            "orders": [
                (o.id, o.status, o.needs_review, list(o.review_reasons), o.actual_quantity_kg)
                for o in s.scalars(select(Order).order_by(Order.id))
            ],
            "history": s.scalar(select(func.count()).select_from(OrderStatusChange)),
            "documents": [
                (d.tenant_id, d.sha256, d.order_id, d.device_id, d.stored)
                for d in s.scalars(select(Document).order_by(Document.id))
            ],
            "facts": [
                s.scalar(select(func.count()).select_from(m)) for m in (JobEvent, PodRow, Weighing)
            ],
        }


def test_every_device_message_kind_is_confined_to_what_the_device_was_given(
    factory: sessionmaker[Session], world: tuple[Tenant, Tenant]
) -> None:
    global _session
    acme, globex = world
    failures: list[str] = []
    for case in CASES:
        with transaction(factory) as s:
            _session = s
            try:
                topic_device, msg = case.build(acme, globex)
            finally:
                _session = None
        before = snapshot(factory)
        with factory() as s:
            dead_before = s.scalar(select(func.max(DeadLetter.id))) or 0
        out = ingest_batch(factory, [Incoming(up_topic(topic_device, msg.type), encode(msg))])
        with factory() as s:
            dead = s.scalars(select(DeadLetter).where(DeadLetter.id > dead_before)).all()
        problems = []
        if [d.reason for d in dead] != [case.reason]:
            problems.append(f"dead letters {[(d.reason, d.detail) for d in dead]}")
        if out.committed:
            problems.append(f"committed {out.committed}")
        if [r.message_id for r in out.rejected.get(topic_device, [])] != [msg.message_id]:
            problems.append(f"rejections {out.rejected}")
        if snapshot(factory) != before:
            problems.append("state changed")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def _flagged_for(factory: sessionmaker[Session], sha256: str) -> set[int]:
    """Orders in front of a person with a reason naming the file."""
    with factory() as s:
        return {
            o.id
            for o in s.scalars(select(Order).where(Order.needs_review))
            if any(sha256 in r for r in o.review_reasons)
        }


def test_a_file_a_device_may_not_claim_is_left_alone_and_its_order_flagged(
    factory: sessionmaker[Session], world: tuple[Tenant, Tenant]
) -> None:
    global _session
    acme, globex = world
    failures: list[str] = []
    for case in DOCUMENT_CASES:
        with transaction(factory) as s:
            _session = s
            try:
                topic_device, msg = case.build(acme, globex)
            finally:
                _session = None
        named = (
            msg.document_sha256
            if isinstance(msg, WeighingTicket)
            else next(p.sha256 for p in msg.photos)  # type: ignore[attr-defined]
        )
        before = snapshot(factory)
        flagged_before = _flagged_for(factory, named)
        with factory() as s:
            dead_before = s.scalar(select(func.max(DeadLetter.id))) or 0
        out = ingest_batch(factory, [Incoming(up_topic(topic_device, msg.type), encode(msg))])
        after = snapshot(factory)
        flagged = _flagged_for(factory, named) - flagged_before
        with factory() as s:
            dead = s.scalars(select(DeadLetter).where(DeadLetter.id > dead_before)).all()
        problems = []
        if dead:
            problems.append(f"dead letters {[(d.reason, d.detail) for d in dead]}")
        if out.committed != {topic_device: [msg.message_id]} or out.rejected:
            problems.append(f"committed {out.committed}, rejected {out.rejected}")
        if after["documents"] != before["documents"]:
            problems.append("a document changed")
        if after["facts"] == before["facts"]:
            problems.append("the fact was not kept")
        if len(flagged) != 1:
            problems.append(f"orders newly flagged for the file: {flagged}")
        if problems:
            failures.append(f"{case.name}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)


def test_a_weighbridge_does_not_complete_an_order_planned_for_another_site(
    factory: sessionmaker[Session], world: tuple[Tenant, Tenant]
) -> None:
    """Not a refusal: the ticket is real and becomes a walk-in order, but the order planned for
    the other weighbridge's yard stays open. Also across tenants: globex's weighbridge weighing
    a vehicle with acme's card touches nothing of acme's."""
    acme, globex = world
    before = snapshot(factory)["orders"]
    out = ingest_batch(
        factory,
        [
            Incoming(up_topic("wb-acme-2", "weighing"), encode(weighing("wb-acme-2"))),
            Incoming(up_topic("wb-globex", "weighing"), encode(weighing("wb-globex"))),
        ],
    )
    assert out.stored == 2
    with factory() as s:
        assert s.get(Order, acme.planned_id).status == "planned"
        walk_in = s.scalars(
            select(Order).where(Order.tenant_id == acme.tenant_id, Order.order_type == "walk_in")
        ).one()
    assert walk_in.status == "executed"
    after = {o[0]: o for o in snapshot(factory)["orders"]}
    acme_ids = {o[0] for o in before} - {
        o[0] for o in before if o[0] in (globex.planned_id, globex.dispatched_id)
    }
    assert [after[i] for i in sorted(acme_ids)] == [o for o in before if o[0] in acme_ids]


# -- through a real broker -----------------------------------------------------------------------


def test_a_foreign_job_report_over_mqtt_is_rejected_to_the_device(
    factory: sessionmaker[Session], world: tuple[Tenant, Tenant], mosquitto: Any
) -> None:
    acme, _ = world
    worker = IngestWorker(
        IngestConfig(address=parse_mqtt_url(mosquitto.url), client_id="ingest-scope"), factory
    )
    worker.start()
    assert worker.wait_ready()
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    received: list[Any] = []
    addr = parse_mqtt_url(mosquitto.url)
    dev = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id="truck-acme-2",
        protocol=mqtt.MQTTv5,
    )
    dev.on_message = lambda _c, _u, m: received.append(decode(m.payload))
    dev.connect(addr.host, addr.port)
    dev.subscribe("oms/v1/truck-acme-2/down/#", qos=1)
    dev.loop_start()
    before = snapshot(factory)
    try:
        intruder = "truck-acme-2"
        msgs = [completed(intruder, acme.number), pod(intruder, acme.number, acme.photo)]
        for m in msgs:
            dev.publish(up_topic("truck-acme-2", m.type), encode(m), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 15
        rejected: dict[uuid.UUID, str] = {}
        while time.monotonic() < deadline and len(rejected) < 2:
            rejected = {r.message_id: r.reason for rc in received for r in rc.rejected}
            time.sleep(0.05)
        assert set(rejected) == {m.message_id for m in msgs}
        assert all(r.startswith("job_not_dispatched:") for r in rejected.values())
        assert snapshot(factory) == before
        assert runner.is_alive()
    finally:
        dev.loop_stop()
        dev.disconnect()
        worker.stop()
        runner.join(timeout=10)
