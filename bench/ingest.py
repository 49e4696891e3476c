"""Ingest throughput and latency: N simulated devices (separate publisher processes) publish
measurements at QoS 1 through Mosquitto (the project's config) into PostgreSQL + TimescaleDB
through `oms ingest` worker processes (shared subscription, ack after commit).

Runs: (a) one reading per message, as fast as the publishers go; (b) ten readings per
message; (c) one reading per message at half the target load (``--half-rate``, 4,000 msg/s:
half of 8,000), for latency (publish -> receipt, i.e. after the commit); (d) the same at half
of (a)'s measured rate. Plus a naive baseline: one subscriber doing one INSERT and COMMIT per
reading. Prints one JSON object; ``p50_ms``/``p99_ms`` are run (c)'s.

Usage: python bench/ingest.py [--quick] [--workers 2] [--publishers 2] [--devices 20] [--raw]
``--raw`` replaces ingest by bare subscribers that only acknowledge: the machine's ceiling for
the same publishers and broker.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procstat import proc_stat  # noqa: E402
from cloud.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from cloud.devices.service import create_device  # noqa: E402
from cloud.migrations import upgrade  # noqa: E402
from cloud.tenancy.service import create_tenant  # noqa: E402
from tests.support.services import pg_database, start_mosquitto  # noqa: E402

MEASUREMENT = (
    '{{"type":"measurement","message_id":"{mid}","device_id":"{dev}","seq":{seq},'
    '"occurred_at":"{at}","schema_version":1,"readings":[{readings}]}}'
)
READING = '{{"kind":"weight","at":"{at}","channel":"bridge","value":"{v}","unit":"kg","stable":true,"mode":"gross"}}'


class CpuMeter:
    """CPU seconds per role while a run lasts: the ingest workers (their process group), the
    broker, PostgreSQL (every ``postgres`` process) and this script's receipt listener. The
    publishers count their own. Shows where a 2-core machine's time goes."""

    def __init__(self, ingest_pgid: int | None, broker_pid: int | None) -> None:
        self.ingest_pgid, self.broker_pid = ingest_pgid, broker_pid

    def sample(self) -> dict[str, float]:
        out = dict.fromkeys(("ingest", "broker", "postgres", "listener"), 0.0)
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            st = proc_stat(pid)
            if st is None:
                continue
            name, pgid, cpu = st
            if self.ingest_pgid is not None and pgid == self.ingest_pgid:
                out["ingest"] += cpu
            elif int(pid) == self.broker_pid:
                out["broker"] += cpu
            elif name == "postgres":
                out["postgres"] += cpu
            elif int(pid) == os.getpid():
                out["listener"] += cpu
        return out


def client(cid: str, port: int, *, v5: bool = True) -> mqtt.Client:
    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=cid,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    c.connect("127.0.0.1", port, keepalive=60)
    return c


def publisher(
    idx: int,
    port: int,
    devices: list[str],
    count: int,
    readings: int,
    rate: float | None,
    out: str,
    seq_start: dict[str, int],
) -> None:
    """Publish ``count`` messages round-robin over ``devices``; write (message_id, t) pairs."""
    c = client(f"bench-pub-{idx}-{uuid.uuid4().hex[:6]}", port)
    # One thread, no loop_start(): publish() then writes straight to the socket, and PUBACKs
    # are read in between. With paho's network thread every publish also wakes that thread
    # through a socket pair, which doubled the load generator's CPU on this 2-core machine.
    acked = [0]
    c.on_publish = lambda *_: acked.__setitem__(0, acked[0] + 1)
    sent: list[tuple[str, float]] = []
    seqs = dict(seq_start)
    interval = 1.0 / rate if rate else 0.0
    # Build the messages first, so the publishing loop costs what a device's publish costs.
    at = datetime.now(UTC).isoformat()
    prepared = []
    for i in range(count):
        dev = devices[i % len(devices)]
        seqs[dev] += 1
        mid = str(uuid.uuid4())
        body = ",".join(READING.format(at=at, v=30000 + (i + k) % 500) for k in range(readings))
        prepared.append(
            (
                mid,
                f"oms/v1/{dev}/up/measurement",
                MEASUREMENT.format(mid=mid, dev=dev, seq=seqs[dev], at=at, readings=body),
            )
        )
    while not c.is_connected():
        c.loop(timeout=0.1)
    start = time.perf_counter()
    for i, (mid, topic, payload) in enumerate(prepared):
        if interval and (delay := start + i * interval - time.perf_counter()) > 0:
            # Paced: sleep until the slot, at least 2 ms, so at a few thousand messages a second
            # the messages due meanwhile go out together instead of costing a wake-up each (the
            # load generator's CPU is taken from the pipeline's). PUBACKs are read below.
            time.sleep(max(delay, 0.002))
        t = time.time()
        c.publish(topic, payload, qos=1)
        sent.append((mid, t))
        if i % 64 == 63:
            c.loop_read(64)
        while len(sent) - acked[0] > 2000:  # do not run ahead of the broker by more than this
            c.loop(timeout=0.05)
    deadline = time.monotonic() + 60
    while acked[0] < len(sent) and time.monotonic() < deadline:
        c.loop(timeout=0.05)
    c.disconnect()
    cpu = time.process_time()
    Path(out).write_text(f"cpu {cpu}\n" + "\n".join(f"{m} {t}" for m, t in sent))


class ReceiptListener:
    def __init__(self, port: int) -> None:
        self.times: dict[str, float] = {}
        self.lock = threading.Lock()
        self.c = client(f"bench-rcpt-{uuid.uuid4().hex[:6]}", port)
        self.c.on_message = self._on
        self.c.subscribe("oms/v1/+/down/receipt", qos=0)
        self.c.loop_start()

    def _on(self, _c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        now = time.time()
        data = json.loads(msg.payload)
        with self.lock:
            for m in data.get("committed", []):
                self.times.setdefault(m, now)

    def stop(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def run_load(
    port: int,
    devices: list[str],
    *,
    publishers: int,
    count: int,
    readings: int,
    rate: float | None,
    seqs: dict[str, int],
    tmp: Path,
    meter: CpuMeter | None = None,
) -> dict[str, object]:
    listener = ReceiptListener(port)
    time.sleep(0.5)
    per = count // publishers
    groups = [devices[i::publishers] for i in range(publishers)]
    files = [tmp / f"sent-{uuid.uuid4().hex}.txt" for _ in range(publishers)]
    procs = [
        mp.Process(
            target=publisher,
            args=(
                i,
                port,
                groups[i],
                per,
                readings,
                (rate / publishers) if rate else None,
                str(files[i]),
                {d: seqs[d] for d in groups[i]},
            ),
        )
        for i in range(publishers)
    ]
    cpu0 = meter.sample() if meter else {}
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    sent: dict[str, float] = {}
    publisher_cpu = 0.0
    for f in files:
        for line in f.read_text().splitlines():
            m, t = line.split()
            if m == "cpu":
                publisher_cpu += float(t)
            else:
                sent[m] = float(t)
    # The clock starts at the first publish, not at process start: preparing the payloads is
    # the load generator's business, not part of the pipeline being measured.
    t0 = min(sent.values())
    deadline = time.time() + 120
    while time.time() < deadline:
        with listener.lock:
            if len(set(sent) & set(listener.times)) >= len(sent):
                break
        time.sleep(0.2)
    cpu1 = meter.sample() if meter else {}
    listener.stop()
    for g in groups:  # the next run continues each device's seq
        for d in g:
            seqs[d] += per // len(g) + (1 if g.index(d) < per % len(g) else 0)
    got = {m: listener.times[m] for m in sent if m in listener.times}
    lat = sorted((got[m] - sent[m]) * 1000 for m in got)
    end = max(got.values()) if got else time.time()
    n = len(got)
    span = max(end - t0, 1e-9)
    cpu = {k: round((cpu1[k] - cpu0[k]) / span, 2) for k in cpu0}
    if meter:
        cpu["publishers"] = round(publisher_cpu / span, 2)  # includes preparing the payloads
    return {
        "messages": len(sent),
        "receipted": n,
        "messages_per_s": round(n / (end - t0)) if n else 0,
        "readings_per_s": round(n * readings / (end - t0)) if n else 0,
        "p50_ms": round(lat[len(lat) // 2], 1) if lat else None,
        "p99_ms": round(lat[int(len(lat) * 0.99)], 1) if lat else None,
        **({"cpu_cores": cpu} if meter else {}),
        "ids": list(sent),
    }


def bare_subscriber(port: int, ready: object, stop: object) -> None:
    """The pipe's ceiling: a v5 shared subscriber that acknowledges each message and sends a
    receipt per 500, with no parsing and no database. What ingest could at most do here."""
    c = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bare-{uuid.uuid4().hex[:6]}",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    pending: list[str] = []
    lock = threading.Lock()

    def flush() -> None:
        with lock:
            ids = pending[:]
            pending.clear()
        if ids:
            c.publish("oms/v1/bare/down/receipt", json.dumps({"committed": ids}), qos=0)

    def on_msg(_c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        c.ack(msg.mid, msg.qos)
        with lock:
            pending.append(msg.payload[36:72].decode())  # the message id sits at a fixed offset
            full = len(pending) >= 500
        if full:
            flush()

    c.on_message = on_msg
    c.connect("127.0.0.1", port)
    c.subscribe("$share/bare/oms/v1/+/up/#", qos=1)
    c.loop_start()
    ready.set()  # type: ignore[attr-defined]
    while not stop.is_set():  # type: ignore[attr-defined]
        time.sleep(0.1)
        flush()
    c.loop_stop()


def baseline(port: int, pg_url: str, device: str, n: int) -> float:
    """One subscriber, one INSERT + COMMIT per reading: what a naive ingest does."""
    dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
    conn = psycopg.connect(dsn)
    done = threading.Event()
    count = [0]
    t0 = [0.0]

    def on_msg(_c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        data = json.loads(msg.payload)
        for i, r in enumerate(data["readings"]):
            conn.execute(
                "INSERT INTO measurements (time, message_id, idx, tenant_id, device_id, channel, kind,"
                " value, unit, stable, mode, condition) VALUES (%s,%s,%s,1,%s,%s,'weight',%s,%s,%s,%s,'ok')",
                (
                    r["at"],
                    data["message_id"],
                    i,
                    data["device_id"],
                    r["channel"],
                    r["value"],
                    r["unit"],
                    r["stable"],
                    r["mode"],
                ),
            )
            conn.commit()
            count[0] += 1
        if count[0] == 1:
            t0[0] = time.time()
        if count[0] >= n:
            done.set()

    sub = client("bench-naive", port)
    sub.on_message = on_msg
    sub.subscribe("bench/naive/#", qos=1)
    sub.loop_start()
    time.sleep(0.3)
    pub = client("bench-naive-pub", port)
    pub.loop_start()
    at = datetime.now(UTC).isoformat()
    for i in range(n):
        body = READING.format(at=at, v=30000 + i % 500)
        pub.publish(
            "bench/naive/m",
            MEASUREMENT.format(mid=uuid.uuid4(), dev=device, seq=i + 1, at=at, readings=body),
            qos=1,
        )
    done.wait(300)
    elapsed = time.time() - t0[0]
    sub.loop_stop()
    pub.loop_stop()
    conn.close()
    return (count[0] - 1) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--publishers", type=int, default=2)
    ap.add_argument("--devices", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=2000)
    ap.add_argument(
        "--half-rate",
        type=float,
        default=4000.0,
        help="messages/s of the latency run: half of the 8,000 msg/s target",
    )
    ap.add_argument(
        "--raw",
        action="store_true",
        help="measure the MQTT pipe alone (bare subscribers, no database): the ceiling",
    )
    args = ap.parse_args()
    n1 = 20_000 if args.quick else 120_000
    n10 = 4_000 if args.quick else 20_000
    n_naive = 1_500 if args.quick else 5_000

    with tempfile.TemporaryDirectory() as tmpdir, pg_database("oms_bench") as url:
        tmp = Path(tmpdir)
        upgrade(url)
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        devices = [f"bench-{i:03d}" for i in range(args.devices)]
        with transaction(factory) as s:
            t = create_tenant(s, slug="bench", name="Bench")
            for d in devices:
                create_device(s, tenant_id=t.id, device_id=d, kind="truck")
            create_device(s, tenant_id=t.id, device_id="bench-naive", kind="truck")
        broker = start_mosquitto(tmp)
        env = {
            **os.environ,
            "OMS_DATABASE_URL": url,
            "OMS_MQTT_URL": broker.url,
            "OMS_INGEST_BATCH_SIZE": str(args.batch_size),
            "OMS_INGEST_BATCH_IDLE_MS": "5",
        }
        if args.raw:
            stop, procs = mp.Event(), []
            for _ in range(args.workers):
                ready = mp.Event()
                p = mp.Process(target=bare_subscriber, args=(broker.port, ready, stop))
                p.start()
                ready.wait(10)
                procs.append(p)
            time.sleep(1)
            seqs = dict.fromkeys(devices, 0)
            raw = run_load(
                broker.port,
                devices,
                publishers=args.publishers,
                count=n1,
                readings=1,
                rate=None,
                seqs=seqs,
                tmp=tmp,
            )
            raw.pop("ids")
            stop.set()
            for p in procs:
                p.join(10)
            broker.stop()
            print(
                json.dumps(
                    {
                        "benchmark": "mqtt_pipe_ceiling",
                        **raw,
                        "setup": {
                            "subscribers": args.workers,
                            "publishers": args.publishers,
                            "devices": args.devices,
                            "cores": os.cpu_count(),
                        },
                    }
                )
            )
            return
        ingest = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cloud.entrypoints.cli",
                "ingest",
                "--workers",
                str(args.workers),
            ],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=open(tmp / "ingest.log", "wb"),
            start_new_session=True,
        )
        time.sleep(3)
        seqs = dict.fromkeys(devices, 0)
        meter = CpuMeter(ingest.pid, broker.proc.pid if broker.proc else None)
        try:
            a = run_load(
                broker.port,
                devices,
                publishers=args.publishers,
                count=n1,
                readings=1,
                rate=None,
                seqs=seqs,
                tmp=tmp,
                meter=meter,
            )
            b = run_load(
                broker.port,
                devices,
                publishers=args.publishers,
                count=n10,
                readings=10,
                rate=None,
                seqs=seqs,
                tmp=tmp,
                meter=meter,
            )
            c = run_load(
                broker.port,
                devices,
                publishers=args.publishers,
                count=min(n1, int(args.half_rate * 10)),
                readings=1,
                rate=args.half_rate,
                seqs=seqs,
                tmp=tmp,
                meter=meter,
            )
            half = max(100.0, float(a["messages_per_s"]) / 2)  # type: ignore[arg-type]
            d = run_load(
                broker.port,
                devices,
                publishers=args.publishers,
                count=min(n1, int(half * 10)),
                readings=1,
                rate=half,
                seqs=seqs,
                tmp=tmp,
                meter=meter,
            )
        finally:
            os.killpg(ingest.pid, signal.SIGTERM)
            ingest.wait(30)
        ids: set[str] = set()
        for run in (a, b, c, d):
            ids |= set(run.pop("ids"))  # type: ignore[arg-type]
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            stored = conn.execute("SELECT message_id FROM ingest_receipts").fetchall()
            rows = conn.execute(
                "SELECT count(*), count(DISTINCT (message_id, idx)) FROM measurements"
            ).fetchone()
            # Every seq was sent once and committed: any open gap is a bookkeeping error.
            gaps = conn.execute(
                "SELECT coalesce(sum(json_array_length(seq_gaps)), 0) FROM devices"
                " WHERE id LIKE 'bench-%' AND seq_gaps IS NOT NULL"
            ).fetchone()
        stored_ids = [r[0] for r in stored]
        expected_rows = sum(int(r["messages"]) for r in (a, c, d)) + 10 * int(b["messages"])  # type: ignore[call-overload]
        base = baseline(broker.port, url, "bench-naive", n_naive)
        broker.stop()
        engine.dispose()
    best_readings = max(int(a["readings_per_s"]), int(b["readings_per_s"]))  # type: ignore[call-overload]
    print(
        json.dumps(
            {
                "benchmark": "ingest",
                "messages_per_s": a["messages_per_s"],
                "readings_per_s": b["readings_per_s"],
                "p50_ms": c["p50_ms"],
                "p99_ms": c["p99_ms"],
                "lost": len(ids - set(stored_ids)),
                "duplicated": (len(stored_ids) - len(set(stored_ids)))
                + (rows[0] - rows[1])
                + max(0, rows[0] - expected_rows),
                "baseline_readings_per_s": round(base),
                "ratio": round(best_readings / base, 1) if base else None,
                "seq_gaps": gaps[0] if gaps else None,
                "runs": {
                    "one_reading": a,
                    "ten_readings": b,
                    "half_target_load_latency": c,
                    "half_measured_load_latency": d,
                },
                "setup": {
                    "workers": args.workers,
                    "publishers": args.publishers,
                    "devices": args.devices,
                    "batch_size": args.batch_size,
                    "cores": os.cpu_count(),
                    "quick": args.quick,
                    "python": platform.python_version(),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
