"""The ingest process: MQTT in, batches into the database, acknowledgements and receipts out.

The broker is acknowledged (``manual_ack``) only after the batch is committed, so a crash at
any point means redelivery, never loss; redelivered messages are deduplicated on
``message_id``. With MQTT v5 the subscription is shared (``$share/<group>/...``), so several
worker processes split the stream; the session outlives disconnects (session expiry), so the
broker queues what arrives while a worker is down.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import structlog
from sqlalchemy.orm import Session, sessionmaker

from cloud.db import transaction, utcnow
from cloud.ingest.deadletters import purge_dead_letters
from cloud.ingest.mqtt import BrokerAddress, connect_properties, new_client, receipts_for
from cloud.ingest.pipeline import Incoming, Outcome
from cloud.ingest.policy import DEFAULT_POLICY, IngestPolicy
from cloud.ingest.runner import ingest_batch, is_transient
from cloud.outbox.models import OutboxJob
from cloud.outbox.service import MQTT_PUBLISH, deliver_pending
from protocols import ingest_filter

log = structlog.get_logger("cloud.ingest")


@dataclass
class IngestConfig:
    address: BrokerAddress
    client_id: str = "oms-ingest"
    v5: bool = True
    shared_group: str | None = "ingest"
    session_expiry_s: int = 7 * 24 * 3600
    batch_size: int = 500
    batch_idle_ms: int = 5
    batch_max_wait_ms: int = 20
    ca_file: str | None = None
    dispatch: bool = True
    """Also publish the queued down-link messages (jobs); one place per deployment is enough,
    but several are safe (rows are locked while being sent)."""
    policy: IngestPolicy = DEFAULT_POLICY
    """Limits on device input (future timestamps, dead letters): ``IngestPolicy.from_settings``."""
    purge_every_s: float | None = 3600.0
    """Delete dead letters past their retention this often (None: leave it to
    ``oms dead-letters purge`` on a timer)."""


@dataclass
class Stats:
    batches: int = 0
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    suppressed: int = 0
    readings: int = 0
    db_retries: int = 0


class IngestWorker:
    def __init__(
        self,
        config: IngestConfig,
        factory: sessionmaker[Session],
        *,
        on_batch: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.config = config
        self.factory = factory
        self.on_batch = on_batch
        self.stats = Stats()
        self.queue: queue.Queue[Incoming] = queue.Queue()
        self._generation = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._stop = threading.Event()
        self.client = new_client(
            config.client_id,
            v5=config.v5,
            address=config.address,
            manual_ack=True,
            ca_file=config.ca_file,
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe

    # -- MQTT callbacks (paho's network thread) -------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _ud: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        _props: object,
    ) -> None:
        if reason_code.is_failure:
            log.error("ingest.connect_refused", reason=str(reason_code))
            return
        self._generation += 1
        self._connected.set()
        topic = ingest_filter(shared_group=self.config.shared_group if self.config.v5 else None)
        client.subscribe(topic, qos=1)
        log.info(
            "ingest.connected",
            topic=topic,
            session_present=flags.session_present,
            client_id=self.config.client_id,
        )

    def _on_subscribe(
        self,
        _c: mqtt.Client,
        _ud: object,
        _mid: int,
        reason_codes: list[mqtt.ReasonCode],
        _props: object,
    ) -> None:
        if all(not rc.is_failure for rc in reason_codes):
            self._subscribed.set()
        else:
            log.error("ingest.subscribe_refused", reasons=[str(rc) for rc in reason_codes])

    def _on_disconnect(
        self,
        _c: mqtt.Client,
        _ud: object,
        _flags: object,
        reason_code: mqtt.ReasonCode,
        _props: object,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        if not self._stop.is_set():
            log.warning("ingest.disconnected", reason=str(reason_code))

    def _on_message(self, _c: mqtt.Client, _ud: object, msg: mqtt.MQTTMessage) -> None:
        self.queue.put(
            Incoming(
                msg.topic,
                bytes(msg.payload),  # already bytes: no copy
                utcnow(),
                (self._generation, msg.mid, msg.qos, time.monotonic()),
            )
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        a = self.config.address
        if self.config.v5:
            self.client.connect_async(
                a.host,
                a.port,
                keepalive=30,
                clean_start=False,
                properties=connect_properties(self.config.session_expiry_s),
            )
        else:
            self.client.connect_async(a.host, a.port, keepalive=30)
        self.client.loop_start()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._subscribed.wait(timeout)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()

    def run(self) -> None:
        """Process batches until :meth:`stop`; then the current batch is finished first."""
        next_dispatch = 0.0
        next_purge = 0.0
        try:
            while not self._stop.is_set():
                batch = self._drain()
                if batch:
                    self._handle(batch)
                if self.config.dispatch and time.monotonic() >= next_dispatch:
                    next_dispatch = time.monotonic() + 0.5
                    self._dispatch()
                every = self.config.purge_every_s
                if every is not None and time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + every
                    self._purge()
        finally:
            self.close()

    def _purge(self) -> None:
        """Dead letters past their retention. Housekeeping never stops ingest: a database
        outage postpones it, any other failure is logged and it is tried again next time."""
        try:
            with transaction(self.factory) as session:
                purge_dead_letters(
                    session, older_than_days=self.config.policy.dead_letter_retention_days
                )
        except Exception as exc:  # noqa: BLE001 - housekeeping must not end the worker
            error = (str(exc).splitlines() or [""])[0][:300]
            if is_transient(exc):
                log.warning("ingest.purge_db_unavailable", error=error)
            else:
                log.error("ingest.purge_failed", error=f"{type(exc).__name__}: {error}")

    def _dispatch(self) -> None:
        """Publish queued down-link messages (jobs for trucks) committed by the API."""
        if not self._connected.is_set():
            return

        def publish(job: OutboxJob) -> None:
            info = self.client.publish(job.target, job.payload, qos=1)
            info.wait_for_publish(timeout=5)
            if not info.is_published():
                raise TimeoutError("no PUBACK within 5 s")

        try:
            sent = deliver_pending(self.factory, kind=MQTT_PUBLISH, send=publish)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("ingest.dispatch_db_unavailable", error=str(exc).splitlines()[0][:300])
            return
        if sent:
            log.info("ingest.dispatched", messages=sent)

    # -- batches -----------------------------------------------------------------------------

    def _drain(self) -> list[Incoming]:
        """A batch: what is queued now, plus what arrives until ``batch_idle_ms`` pass with
        nothing new, the batch is full, or the first message has waited ``batch_max_wait_ms``
        since it arrived (so a steady stream still commits every few tens of milliseconds, and
        a message queued behind a slow batch does not wait the whole time again)."""
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        idle = self.config.batch_idle_ms / 1000
        deadline = first.token[3] + self.config.batch_max_wait_ms / 1000
        size = self.config.batch_size
        while True:
            try:
                while len(batch) < size:
                    batch.append(self.queue.get_nowait())
            except queue.Empty:
                pass
            left = deadline - time.monotonic()
            if len(batch) >= size or idle <= 0 or left <= 0:
                break
            # Sleep through the idle gap instead of waking for every message that arrives;
            # if nothing came meanwhile, the stream paused: close the batch.
            time.sleep(min(idle, left))
            if self.queue.empty():
                break
        return batch

    def _handle(self, batch: list[Incoming]) -> None:
        delay = 0.5
        while True:
            try:
                outcome = ingest_batch(self.factory, batch, policy=self.config.policy)
                break
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.stats.db_retries += 1
                log.warning(
                    "ingest.db_unavailable", error=str(exc).splitlines()[0][:300], retry_in_s=delay
                )
                # Whatever the broker redelivers meanwhile is deduplicated later.
                if self._stop.wait(delay):
                    return
                delay = min(delay * 2, 10.0)
        generation = self._generation
        for item in batch:
            gen, mid, qos, _ = item.token
            if gen == generation and qos > 0:
                # After a reconnect the old packet ids mean nothing; the broker redelivers.
                self.client.ack(mid, qos)
        for topic, payload in receipts_for(outcome.committed, outcome.rejected):
            self.client.publish(topic, payload, qos=1)
        s = self.stats
        s.batches += 1
        s.messages += len(batch)
        s.stored += outcome.stored
        s.duplicates += outcome.duplicates
        s.dead += outcome.dead
        s.suppressed += outcome.suppressed
        s.readings += outcome.readings
        if self.on_batch:
            self.on_batch(outcome)


def run_until_signal(worker: IngestWorker) -> None:
    import gc
    import signal

    # Everything alive now (modules, validators, the engine) lives as long as the process:
    # keep it out of the collector's sight, and collect the young generation less often. A
    # batch allocates many short-lived objects (a model, a Decimal and a datetime per reading)
    # and the default thresholds made the collector a fifth of the worker's CPU.
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)

    def _stop(*_: object) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.start()
    started = time.monotonic()
    worker.run()
    log.info("ingest.stopped", uptime_s=round(time.monotonic() - started), **vars(worker.stats))
