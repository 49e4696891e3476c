"""The ingest worker against a real Mosquitto: bad messages are dead-lettered and ingest keeps
going; receipts reach the device only after the commit."""

from __future__ import annotations

import json
import threading
import time
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from cloud.db import transaction
from cloud.ingest.models import DeadLetter
from cloud.ingest.mqtt import parse_mqtt_url
from cloud.ingest.worker import IngestConfig, IngestWorker
from cloud.weighings.models import Weighing
from protocols import decode, encode, up_topic
from tests.support.factories import create_world, measurement, ticket

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def device_client(url: str, device_id: str, received: list) -> mqtt.Client:  # type: ignore[type-arg]
    addr = parse_mqtt_url(url)
    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5
    )
    c.on_message = lambda _c, _u, m: received.append(decode(m.payload))
    c.connect(addr.host, addr.port)
    c.subscribe(f"oms/v1/{device_id}/down/#", qos=1)
    c.loop_start()
    return c


def wait(pred, timeout=15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_bad_input_is_dead_lettered_and_ingest_keeps_running(factory, mosquitto) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        create_world(s, device_id="wb-1")
    worker = IngestWorker(
        IngestConfig(address=parse_mqtt_url(mosquitto.url), client_id="ingest-t"), factory
    )
    worker.start()
    assert worker.wait_ready()
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    received: list = []  # type: ignore[type-arg]
    dev = device_client(mosquitto.url, "wb-1", received)
    try:
        good = ticket(seq=3)
        spoof = ticket("wb-9", seq=1)
        for topic, payload in [
            (up_topic("wb-1", "weighing"), b"{broken"),
            (up_topic("wb-1", "weighing"), json.dumps({"type": "weighing"}).encode()),
            (up_topic("wb-1", "weighing"), encode(spoof)),  # envelope says another device
            (up_topic("wb-1", "measurement"), encode(measurement(seq=2))),
            (up_topic("wb-1", "weighing"), encode(good)),
        ]:
            dev.publish(topic, payload, qos=1).wait_for_publish(5)

        def weighed() -> bool:
            with factory() as s:
                return s.scalar(select(func.count()).select_from(Weighing)) == 1

        assert wait(weighed)
        with factory() as s:
            reasons = sorted(d.reason for d in s.scalars(select(DeadLetter)))
        assert reasons == ["invalid_json", "schema", "topic_mismatch"]
        assert wait(lambda: any(good.message_id in r.committed for r in received))
        rejected = {r.message_id for rc in received for r in rc.rejected}
        assert spoof.message_id in rejected
        assert worker.stats.dead == 3 and worker.stats.stored == 2
        assert runner.is_alive()
    finally:
        dev.loop_stop()
        dev.disconnect()
        worker.stop()
        runner.join(timeout=10)


def test_messages_published_while_ingest_is_down_are_delivered_later(factory, mosquitto) -> None:  # type: ignore[no-untyped-def]
    """The persistent session (v5 session expiry) queues what arrives while ingest is away."""
    with transaction(factory) as s:
        create_world(s, device_id="wb-1")
    cfg = IngestConfig(address=parse_mqtt_url(mosquitto.url), client_id="ingest-p")
    worker = IngestWorker(cfg, factory)
    worker.start()
    assert worker.wait_ready()
    worker.close()  # subscribed once, then gone
    received: list = []  # type: ignore[type-arg]
    dev = device_client(mosquitto.url, "wb-1", received)
    msgs = [measurement(seq=i) for i in range(1, 1501)]  # more than Mosquitto's default queue
    for m in msgs:
        dev.publish(up_topic("wb-1", "measurement"), encode(m), qos=1)
    dev.publish(up_topic("wb-1", "weighing"), encode(ticket(seq=1501)), qos=1).wait_for_publish(10)
    worker = IngestWorker(cfg, factory)
    worker.start()
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    try:

        def all_in() -> bool:
            with factory() as s:
                from cloud.ingest.models import IngestReceipt

                return s.scalar(select(func.count()).select_from(IngestReceipt)) == 1501

        assert wait(all_in, timeout=40), worker.stats
    finally:
        dev.loop_stop()
        dev.disconnect()
        worker.stop()
        runner.join(timeout=10)


def test_unknown_fields_and_uuid_case_do_not_matter(factory) -> None:  # type: ignore[no-untyped-def]
    from cloud.ingest.pipeline import Incoming
    from cloud.ingest.runner import ingest_batch

    with transaction(factory) as s:
        create_world(s, device_id="wb-1")
    m = ticket(seq=1)
    data = json.loads(encode(m))
    data["message_id"] = str(m.message_id).upper()
    data["future_field"] = 1
    out = ingest_batch(factory, [Incoming(up_topic("wb-1", "weighing"), json.dumps(data).encode())])
    assert out.stored == 1 and out.committed["wb-1"] == [uuid.UUID(str(m.message_id))]


def _queued(worker: IngestWorker, n: int, *, age_s: float = 0.0) -> None:
    from cloud.db import utcnow
    from cloud.ingest.pipeline import Incoming

    arrived = time.monotonic() - age_s
    for i in range(n):
        worker.queue.put(
            Incoming("oms/v1/wb-1/up/measurement", b"{}", utcnow(), (1, i, 1, arrived))
        )


def _drain_during_trickle(worker: IngestWorker) -> tuple[list, float]:  # type: ignore[type-arg]
    """One ``_drain`` while another thread queues a message every millisecond; the batch and
    how long the drain took."""
    stop = threading.Event()

    def trickle() -> None:
        while not stop.is_set():
            _queued(worker, 1)
            time.sleep(0.001)

    t = threading.Thread(target=trickle)
    t.start()
    started = time.monotonic()
    try:
        batch = worker._drain()
        return batch, time.monotonic() - started
    finally:
        stop.set()
        t.join()


def test_batches_close_on_size_idle_gap_and_the_first_message_s_age() -> None:
    """No broker needed: the batching rules of the worker's queue."""
    worker = IngestWorker(
        IngestConfig(
            address=parse_mqtt_url("mqtt://127.0.0.1:1"),
            batch_size=10,
            batch_idle_ms=5,
            batch_max_wait_ms=200,
        ),
        None,  # type: ignore[arg-type]
    )
    _queued(worker, 25)
    assert [len(worker._drain()) for _ in range(3)] == [10, 10, 5]  # full, full, idle gap

    # A steady trickle keeps the batch open until the first message is max_wait old.
    worker.config.batch_size = 100_000
    batch, waited = _drain_during_trickle(worker)
    assert 0.15 <= waited < 1.0 and len(batch) > 20

    # A message that already waited its max_wait behind a slow batch is not held again, even
    # while more keep coming.
    while not worker.queue.empty():
        worker.queue.get_nowait()
    _queued(worker, 3, age_s=1.0)
    batch, waited = _drain_during_trickle(worker)
    assert waited < 0.1 and len(batch) >= 3


def _database_bytes(factory) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    with factory() as s:
        if s.get_bind().dialect.name == "postgresql":
            return int(s.scalar(text("SELECT pg_database_size(current_database())")))
        return int(s.scalar(text("PRAGMA page_count")) * s.scalar(text("PRAGMA page_size")))


def test_a_flood_of_broker_sized_payloads_adds_a_bounded_amount(factory, mosquitto) -> None:  # type: ignore[no-untyped-def]
    """Issue 8, finding 8: 50 payloads of the broker's maximum (max_packet_size 1 MiB) from
    one device, through Mosquitto and the worker. Random bytes, so no compression hides them."""
    import os

    from cloud.devices.service import device_statuses
    from cloud.ingest.policy import IngestPolicy

    with transaction(factory) as s:
        world = create_world(s, device_id="wb-1")
    policy = IngestPolicy(dead_letter_rate_per_device=10, dead_letter_rate_window_s=3600)
    worker = IngestWorker(
        IngestConfig(address=parse_mqtt_url(mosquitto.url), client_id="ingest-f", policy=policy),
        factory,
    )
    worker.start()
    assert worker.wait_ready()
    runner = threading.Thread(target=worker.run, daemon=True)
    runner.start()
    received: list = []  # type: ignore[type-arg]
    dev = device_client(mosquitto.url, "wb-1", received)
    before = _database_bytes(factory)
    size = 1_000_000  # the payload of a packet just under max_packet_size
    try:
        for _ in range(50):
            dev.publish(up_topic("wb-1", "measurement"), os.urandom(size), qos=1).wait_for_publish(
                10
            )
        good = ticket(seq=1)
        dev.publish(up_topic("wb-1", "weighing"), encode(good), qos=1).wait_for_publish(10)
        assert wait(lambda: worker.stats.messages >= 51, timeout=30), worker.stats
        assert worker.stats.dead == 50 and worker.stats.suppressed == 40
        assert worker.stats.stored == 1 and runner.is_alive()
    finally:
        dev.loop_stop()
        dev.disconnect()
        worker.stop()
        runner.join(timeout=10)
    with factory() as s:
        rows = s.scalars(select(DeadLetter)).all()
        (status,) = device_statuses(s, tenant_id=world.tenant_id, device_id="wb-1")
    assert len(rows) == 10 and {(r.reason, r.payload_size) for r in rows} == {("oversize", size)}
    assert all(len(r.payload) == 4096 for r in rows)
    assert (status.dead_letters.kept, status.dead_letters.suppressed) == (10, 40)
    grown = _database_bytes(factory) - before
    assert grown < 2 * 1024 * 1024, grown  # was 52 MB: the payloads kept whole
