"""Edge agent footprint: the agent (a real process) with 3 simulated serial ports at 10 Hz —
an on-board bin-lift scale (OB-350), its bin tag reader (FDX-B) and a GPS receiver (NMEA RMC)
— publishing through Mosquitto to a receipt echo, for 60 s. Samples RSS and CPU from /proc.
Targets: RSS <= 60 MiB, CPU <= 5 % of one core. Prints one JSON object.

Usage: python bench/edge_footprint.py [--quick] [--seconds 60]"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.procstat import cpu_seconds  # noqa: E402
from firmware_profiles.nmea0183 import encode_sentence  # noqa: E402
from protocols import Receipt, decode, encode  # noqa: E402
from tests.support.services import free_port, start_mosquitto, wait_port  # noqa: E402

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_mib(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_KB / 1024


def gps_server(port: int, stop: threading.Event) -> None:
    """A GPS receiver on a serial-to-TCP port: RMC sentences at 10 Hz, a truck driving north."""
    srv = socket.create_server(("127.0.0.1", port))
    srv.settimeout(0.5)
    conn = None
    i = 0
    while not stop.is_set():
        if conn is None:
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
        now = datetime.now(UTC)
        lat_min = 30.0 + i * 0.0005
        body = (
            f"GPRMC,{now:%H%M%S}.{now.microsecond // 100000},A,52{lat_min:07.4f},N,00605.000,E,"
            f"035.0,000.0,{now:%d%m%y},,"
        )
        try:
            conn.sendall(encode_sentence(body))
        except OSError:
            conn = None
        i += 1
        time.sleep(0.1)
    srv.close()


class ReceiptEcho:
    """Stands in for ingest: every up message is answered with a receipt (batched)."""

    def __init__(self, port: int) -> None:
        self.pending: dict[str, list[uuid.UUID]] = {}
        self.lock = threading.Lock()
        self.messages = 0
        self.readings: dict[str, int] = {}
        self.c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="echo")
        self.c.on_message = self._on
        self.c.connect("127.0.0.1", port)
        self.c.subscribe("oms/v1/+/up/#", qos=1)
        self.c.loop_start()

    def _on(self, _c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        m = decode(msg.payload)
        self.messages += 1
        for r in getattr(m, "readings", ()):
            self.readings[r.kind] = self.readings.get(r.kind, 0) + 1
        if m.type in ("measurement", "job-update", "pod", "weighing"):
            with self.lock:
                self.pending.setdefault(m.device_id, []).append(m.message_id)

    def flush(self) -> None:
        with self.lock:
            pending, self.pending = self.pending, {}
        for dev, ids in pending.items():
            r = Receipt(
                message_id=uuid.uuid4(),
                device_id=dev,
                seq=0,
                occurred_at=datetime.now(UTC),
                committed=ids,
            )
            self.c.publish(f"oms/v1/{dev}/down/receipt", encode(r), qos=1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seconds", type=float, default=60.0)
    args = ap.parse_args()
    seconds = 15.0 if args.quick else args.seconds
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        broker = start_mosquitto(tmp)
        echo = ReceiptEcho(broker.port)
        scale, tags, gps = free_port(), free_port(), free_port()
        stop = threading.Event()
        threading.Thread(target=gps_server, args=(gps, stop), daemon=True).start()
        sim = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge_agent.simulate",
                "--profile",
                "ob350",
                "--scenario",
                "bin-lifts",
                "--listen",
                f"socket://127.0.0.1:{scale}",
                "--rfid-listen",
                f"socket://127.0.0.1:{tags}",
                "--rate",
                "10",
                "--no-wait",
                "--seed",
                "1",
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(scale)
        cfg = tmp / "truck.toml"
        cfg.write_text(f"""
device_id = "truck-bench"
heartbeat_s = 30
log_level = "WARNING"
[mqtt]
url = "{broker.url}"
[outbox]
path = "{(tmp / "outbox.db").as_posix()}"
[measurements]
interval_s = 1
max_rate_hz = 10
[gps]
interval_s = 1
distance_m = 10
[[ports]]
name = "body"
url = "socket://127.0.0.1:{scale}"
profile = "ob350"
role = "onboard"
options = {{ format = "binary", unit = "kg" }}
[[ports]]
name = "bin-reader"
url = "socket://127.0.0.1:{tags}"
profile = "rfid-fdxb"
role = "rfid"
[[ports]]
name = "gps"
url = "socket://127.0.0.1:{gps}"
profile = "nmea0183"
role = "gps"
""")
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "--config", str(cfg)],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(5)  # start-up (imports) is not the steady state
        samples: list[float] = []
        cpu0, t0, msgs0 = cpu_seconds(agent.pid), time.monotonic(), echo.messages
        readings0 = dict(echo.readings)
        while time.monotonic() - t0 < seconds:
            time.sleep(0.5)
            echo.flush()
            samples.append(rss_mib(agent.pid))
        cpu1, t1, msgs1 = cpu_seconds(agent.pid), time.monotonic(), echo.messages
        readings1 = dict(echo.readings)
        time.sleep(1)
        echo.flush()
        agent.terminate()
        agent.wait(20)
        sim.terminate()
        stop.set()
        import sqlite3

        with sqlite3.connect(tmp / "outbox.db") as db:
            backlog = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            seq = dict(db.execute("SELECT key, value FROM meta").fetchall()).get("seq", 0)
        broker.stop()
    print(
        json.dumps(
            {
                "benchmark": "edge_footprint",
                "seconds": round(t1 - t0, 1),
                "ports": 3,
                "rate_hz_per_port": 10,
                "rss_mib_median": round(statistics.median(samples), 1),
                "rss_mib_max": round(max(samples), 1),
                "cpu_percent_of_one_core": round(100 * (cpu1 - cpu0) / (t1 - t0), 2),
                "messages_published_per_s": round((msgs1 - msgs0) / (t1 - t0), 2),
                "readings_reported_per_s": {
                    k: round((v - readings0.get(k, 0)) / (t1 - t0), 1) for k, v in readings1.items()
                },
                "outbox_seq_at_end": seq,
                "outbox_backlog_after_stop": backlog,
                "targets": {"rss_mib": 60, "cpu_percent": 5},
                "python": sys.version.split()[0],
            }
        )
    )


if __name__ == "__main__":
    main()
