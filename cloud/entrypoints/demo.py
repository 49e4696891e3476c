"""``oms demo``: the whole system on one laptop with nothing installed.

SQLite under the data directory, the embedded MQTT broker, ingest and the API in this
process; the weighbridge simulator and the edge agent as child processes (they talk to us
over TCP and MQTT exactly as in production). ``--smoke`` runs headless and exits 0 once an
order was created from a simulated weighing, writing the orders as the API returns them."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from sqlalchemy import func, select

from cloud.broker.embedded import EmbeddedBroker
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.entrypoints.app import create_app
from cloud.entrypoints.seed import DemoLogin, seed_demo
from cloud.ingest.mqtt import parse_mqtt_url
from cloud.ingest.worker import IngestConfig, IngestWorker
from cloud.migrations import upgrade
from cloud.orders.models import Order
from cloud.settings import Settings

log = structlog.get_logger("cloud.entrypoints.demo")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn will
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def agent_config(
    *, device_id: str, mqtt_url: str, scale_port: int, card_port: int, outbox: Path, api_url: str
) -> str:
    return f"""# Written by `oms demo`: a weighbridge terminal with an indicator and a card reader.
device_id = "{device_id}"
api_url = "{api_url}"
heartbeat_s = 10

[mqtt]
url = "{mqtt_url}"
protocol = "auto"

[outbox]
path = "{outbox.as_posix()}"

[weighbridge]
instrument_id = "demo-ind570"
ticket_prefix = "WBD"
min_weight_kg = 500

[[ports]]
name = "bridge"
url = "socket://127.0.0.1:{scale_port}"
profile = "toledo-continuous"
role = "weighbridge"
capacity_kg = 60000
options = {{ checksum = "required" }}

[[ports]]
name = "card-reader"
url = "socket://127.0.0.1:{card_port}"
profile = "rfid-em4100"
role = "rfid"
"""


def http_json(url: str, *, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method="POST" if data else "GET")  # noqa: S310
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 - our own API
        return json.loads(resp.read())


class Demo:
    def __init__(self, *, data_dir: Path, api_port: int, speed: float, smoke: bool) -> None:
        self.data_dir = data_dir
        self.smoke = smoke
        self.speed = speed
        self.api_port = api_port if api_port and port_free(api_port) else free_port()
        self.stop = threading.Event()
        self.children: list[subprocess.Popen[bytes]] = []
        self.settings = Settings(
            environment="development", data_dir=data_dir, database_url="", api_port=self.api_port
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def prepare(self) -> DemoLogin:
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)
        self.data_dir.mkdir(parents=True)
        upgrade(self.settings.sqlalchemy_url)
        self.engine = make_engine(self.settings.sqlalchemy_url)
        self.factory = make_sessionmaker(self.engine)
        with transaction(self.factory) as s:
            return seed_demo(s)

    def start(self, login: DemoLogin) -> None:
        self.broker = EmbeddedBroker(port=free_port())
        self.broker.start()
        self.ingest = IngestWorker(
            IngestConfig(
                address=parse_mqtt_url(self.broker.url),
                client_id="oms-ingest-demo",
                v5=False,
                shared_group=None,
            ),
            self.factory,
        )
        self.ingest.start()
        threading.Thread(target=self.ingest.run, name="ingest", daemon=True).start()
        self.api = uvicorn.Server(
            uvicorn.Config(
                create_app(self.settings, self.factory),
                host="127.0.0.1",
                port=self.api_port,
                log_level="warning",
            )
        )
        threading.Thread(target=self.api.run, name="api", daemon=True).start()

        scale_port, card_port = free_port(), free_port()
        cfg = self.data_dir / "edge-agent.toml"
        cfg.write_text(
            agent_config(
                device_id=login.device_id,
                mqtt_url=self.broker.url,
                scale_port=scale_port,
                card_port=card_port,
                outbox=self.data_dir / "edge" / "outbox.db",
                api_url=self.api_url,
            )
        )
        self._spawn(
            "simulator",
            [
                sys.executable,
                "-m",
                "edge_agent.simulate",
                "--profile",
                "toledo-continuous",
                "--listen",
                f"socket://127.0.0.1:{scale_port}",
                "--rfid-listen",
                f"socket://127.0.0.1:{card_port}",
                "--scenario",
                "truck-in-out",
                "--speed",
                str(self.speed),
                "--corrupt-rate",
                "0.02",
            ],
        )
        self._spawn("agent", [sys.executable, "-m", "edge_agent", "--config", str(cfg)])
        deadline = time.monotonic() + 10
        while not self.api.started and time.monotonic() < deadline:
            time.sleep(0.05)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        logf = (self.data_dir / f"{name}.log").open("wb")
        self.children.append(subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT))

    def weighing_orders(self) -> int:
        with self.factory() as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(Order)
                    .where(Order.source == "weighing", Order.status == "executed")
                )
                or 0
            )

    def shutdown(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if hasattr(self, "api"):
            self.api.should_exit = True
        if hasattr(self, "ingest"):
            self.ingest.stop()
        if hasattr(self, "broker"):
            self.broker.stop()


def run_demo(
    *,
    data_dir: Path,
    api_port: int = 8000,
    smoke: bool = False,
    out: Path | None = None,
    timeout_s: float = 60.0,
    speed: float | None = None,
) -> int:
    began = time.monotonic()
    demo = Demo(
        data_dir=data_dir, api_port=api_port, speed=speed or (3.0 if smoke else 1.0), smoke=smoke
    )
    login = demo.prepare()
    signal.signal(signal.SIGTERM, lambda *_: demo.stop.set())
    signal.signal(signal.SIGINT, lambda *_: demo.stop.set())
    try:
        demo.start(login)
        print(
            f"\nOMS demo running\n  dashboard: {demo.api_url}/\n  login:     {login.email}"
            f" / {login.password}\n  API docs:  {demo.api_url}/api/docs\n  data:      "
            f"{data_dir}  (agent and simulator logs there)\n",
            flush=True,
        )
        if not smoke:
            print(
                "A simulated weighbridge weighs trucks in and out; orders appear on the page."
                " Ctrl-C stops.",
                flush=True,
            )
            demo.stop.wait()
            return 0
        want = 2
        while not demo.stop.is_set() and time.monotonic() - began < timeout_s:
            n = demo.weighing_orders()
            if n >= want or (n >= 1 and time.monotonic() - began > timeout_s - 15):
                break
            for child in demo.children:
                if child.poll() is not None:
                    print(f"smoke: a child process exited early ({child.args!r})", file=sys.stderr)
                    return 1
            time.sleep(0.5)
        if demo.weighing_orders() < 1:
            print(f"smoke: no order from a weighing within {timeout_s:.0f} s", file=sys.stderr)
            return 1
        token = http_json(
            f"{demo.api_url}/api/v1/auth/token",
            body={"email": login.email, "password": login.password},
        )["access_token"]
        orders = http_json(f"{demo.api_url}/api/v1/orders?limit=500", token=token)["items"]
        assert out is not None
        out.mkdir(parents=True, exist_ok=True)
        (out / "orders.json").write_text(json.dumps(orders, indent=2) + "\n")
        done = [o for o in orders if o["source"] == "weighing" and o["status"] == "executed"]
        print(
            f"smoke: ok — {len(done)} executed order(s) from weighings in "
            f"{time.monotonic() - began:.1f} s; wrote {out / 'orders.json'}",
            flush=True,
        )
        return 0 if done else 1
    finally:
        demo.shutdown()
