"""Ingest under faults, sized for CI: while 20,000 messages flow, kill -9 an ingest worker 10
times, restart the broker (persistence on) 10 times, and crash PostgreSQL (stop -m immediate)
once. The publisher behaves like an edge agent: it resends what the cloud has not committed.
Afterwards: 0 lost, 0 duplicated rows, and ingest recovered by itself (its supervisor restarts
workers; workers retry the database). Counted the way Jepsen's total-queue checker does:
attempted, acknowledged, lost, duplicated; plus how many messages a broker PUBACK alone would
have lost (Mosquitto 2.0 does not restore shared subscriptions after a restart, so what
arrives before the workers subscribe again is dropped; this is why the agents wait for the
cloud's receipt, not the PUBACK)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.service import create_device
from cloud.tenancy.service import create_tenant
from tests.e2e.conftest import Procs
from tests.support.services import pg_cluster, pg_stop_immediate_and_start

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]
MESSAGES = 20_000
DEVICES = 10
MSG = (
    '{{"type":"measurement","message_id":"{mid}","device_id":"{dev}","seq":{seq},'
    '"occurred_at":"{at}","readings":[{{"kind":"weight","at":"{at}","channel":"bridge",'
    '"value":"{v}","unit":"kg","stable":true}}]}}'
)


class Publisher(threading.Thread):
    """Devices publishing QoS 1 through broker restarts (persistent session, paho resends)."""

    def __init__(self, port: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.port, self.rate = port, rate
        self.attempted: list[str] = []
        self.acked: set[str] = set()
        self.lock = threading.Lock()
        self.by_mid: dict[int, str] = {}
        self.early: set[int] = set()
        self.sent: dict[str, tuple[str, str]] = {}
        self.c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id="fault-pub",
            protocol=mqtt.MQTTv5,
        )
        self.c.max_inflight_messages_set(200)
        self.c.max_queued_messages_set(0)
        self.c.on_publish = self._on_publish
        self.c.reconnect_delay_set(0.2, 2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.c.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.c.loop_start()

    def _on_publish(self, _c, _u, mid, rc, _p) -> None:  # type: ignore[no-untyped-def]
        if rc.is_failure:
            return
        with self.lock:
            m = self.by_mid.pop(mid, None)
            if m:
                self.acked.add(m)
            else:
                self.early.add(mid)  # PUBACK before publish() returned

    def run(self) -> None:
        start = time.monotonic()
        for i in range(MESSAGES):
            due = start + i / self.rate
            if (d := due - time.monotonic()) > 0:
                time.sleep(d)
            dev = f"fault-{i % DEVICES}"
            mid = str(uuid.uuid4())
            at = datetime.now(UTC).isoformat()
            payload = MSG.format(mid=mid, dev=dev, seq=i // DEVICES + 1, at=at, v=1000 + i % 97)
            # Never hold our lock around publish(): paho calls on_publish under its own locks.
            info = self.c.publish(f"oms/v1/{dev}/up/measurement", payload, qos=1)
            with self.lock:
                self.attempted.append(mid)
                self.sent[mid] = (f"oms/v1/{dev}/up/measurement", payload)
                if info.mid in self.early:
                    self.early.discard(info.mid)
                    self.acked.add(mid)
                else:
                    self.by_mid[info.mid] = mid


def test_ingest_survives_worker_kills_broker_restarts_and_a_database_crash(
    pg_url: str, mosquitto, procs: Procs, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    if pg_cluster() is None:
        pytest.skip(
            "needs pg_ctlcluster to crash the local PostgreSQL"
        )  # services.missing in CI below
    factory = make_sessionmaker(make_engine(pg_url))
    with transaction(factory) as s:
        t = create_tenant(s, slug="faults", name="Faults")
        for i in range(DEVICES):
            create_device(s, tenant_id=t.id, device_id=f"fault-{i}", kind="truck")
    env = {
        "OMS_DATABASE_URL": pg_url,
        "OMS_MQTT_URL": mosquitto.url,
        "OMS_INGEST_BATCH_SIZE": "500",
    }
    supervisor = procs.start(
        "ingest", ["-m", "cloud.entrypoints.cli", "ingest", "--workers", "2"], env
    )
    time.sleep(3)
    pub = Publisher(mosquitto.port, rate=650)
    pub.start()
    faults = {"worker_kills": 0, "broker_restarts": 0, "db_crashes": 0}

    def workers() -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(supervisor.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    schedule = ["kill", "broker"] * 10
    schedule.insert(10, "db")
    for step in schedule:
        time.sleep(1.2)
        if step == "kill":
            for _ in range(50):  # the supervisor may be restarting the last one killed
                if live := workers():
                    os.kill(live[faults["worker_kills"] % len(live)], signal.SIGKILL)
                    faults["worker_kills"] += 1
                    break
                time.sleep(0.2)
        elif step == "broker":
            mosquitto.restart()
            faults["broker_restarts"] += 1
        else:
            pg_stop_immediate_and_start(down_s=2.0)
            faults["db_crashes"] += 1
    pub.join(timeout=120)
    assert not pub.is_alive(), "publisher stuck"
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")

    def stored_ids() -> set[str]:
        with psycopg.connect(dsn) as conn:
            return {r[0] for r in conn.execute("SELECT message_id FROM ingest_receipts")}

    # Drain what the broker still holds, then measure what a PUBACK alone was worth.
    deadline = time.monotonic() + 60
    before, last_change = 0, time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - last_change < 8:
        n = len(stored_ids())
        if n != before:
            before, last_change = n, time.monotonic()
        time.sleep(1)
    with pub.lock:
        acked = set(pub.acked)
    lost_with_puback_only = len(acked - stored_ids())

    # Devices resend until the cloud has it (their outbox waits for a receipt): do the same.
    payloads = dict(pub.sent)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        have = stored_ids()
        missing = [m for m in pub.attempted if m not in have]
        if not missing:
            break
        for m in missing:
            topic, payload = payloads[m]
            pub.c.publish(topic, payload, qos=1)
        time.sleep(3)
    stored = stored_ids()
    with psycopg.connect(dsn) as conn:
        rows, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT message_id) FROM measurements"
        ).fetchone()
        receipts = conn.execute("SELECT count(*) FROM ingest_receipts").fetchone()[0]
    report = {
        "attempted": len(pub.attempted),
        "acknowledged": len(acked),
        "stored": len(stored),
        "lost": len(set(pub.attempted) - stored),
        "duplicated": rows - distinct + (receipts - len(stored)),
        "unexpected": len(stored - set(pub.attempted)),
        "lost_with_broker_puback_only": lost_with_puback_only,
        **faults,
    }
    print(json.dumps(report))
    assert supervisor.poll() is None, "the supervisor itself died"
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["unexpected"] == 0, report
    assert rows == len(stored) == MESSAGES
    assert faults == {"worker_kills": 10, "broker_restarts": 10, "db_crashes": 1}
