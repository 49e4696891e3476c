"""``oms demo``: the whole system on one laptop with nothing installed.

SQLite under the data directory, the embedded MQTT broker, ingest and the API in this
process; the weighbridge simulator, the weighbridge's edge agent and a truck's edge agent (with
the driver's page) as child processes (they talk to us over TCP and MQTT exactly as in
production). ``--smoke`` runs headless: once an order was created from a simulated weighing it
writes the orders as the API returns them (``orders.json``), then makes one order through each
intake channel's real interface and writes them as ``GET /api/v1/orders/{id}`` returns them
(``intake.json``). It exits non-zero, saying which, when something did not happen in time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from sqlalchemy import func, select

from cloud.broker.embedded import EmbeddedBroker
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.entrypoints.app import create_app
from cloud.entrypoints.seed import TRUCK_PLATE, DemoLogin, seed_demo
from cloud.ingest.mqtt import parse_mqtt_url
from cloud.ingest.worker import IngestConfig, IngestWorker
from cloud.migrations import upgrade
from cloud.orders.models import Order
from cloud.settings import Settings

log = structlog.get_logger("cloud.entrypoints.demo")
INTAKE_TIMEOUT_S = 30.0
"""How long the smoke run waits for one intake channel's order (the driver's travels through
the truck's outbox, MQTT and ingest)."""


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


def truck_config(*, device_id: str, mqtt_url: str, page_port: int, outbox: Path) -> str:
    return f"""# Written by `oms demo`: the agent on a truck, with the driver's page.
device_id = "{device_id}"
terminal_listen = "127.0.0.1:{page_port}"
heartbeat_s = 10

[mqtt]
url = "{mqtt_url}"
protocol = "auto"

[outbox]
path = "{outbox.as_posix()}"
"""


class SmokeFailure(Exception):
    """A step of the smoke run did not do what it should: the message says which."""


def http_call(
    url: str,
    *,
    token: str | None = None,
    body: dict[str, Any] | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> tuple[int, Any]:
    """One request to our own servers: the status and the decoded JSON answer."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    verb = method or ("POST" if data is not None else "GET")
    req = urllib.request.Request(url, data=data, method=verb)  # noqa: S310 - our own servers
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:  # noqa: S310 - our own servers
            text = resp.read()
            return resp.status, json.loads(text) if text else None
    except urllib.error.HTTPError as exc:
        text = exc.read()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text.decode(errors="replace")


def http_json(url: str, *, token: str | None = None, body: dict[str, Any] | None = None) -> Any:
    """A request that must succeed: its JSON answer, or ``SmokeFailure`` with the status."""
    status, answer = http_call(url, token=token, body=body)
    if status >= 400:
        verb = "POST" if body is not None else "GET"
        raise SmokeFailure(f"{verb} {url} answered {status}: {answer}")
    return answer


def standard_webhook_headers(*, secret: str, body: bytes, webhook_id: str) -> dict[str, str]:
    """The headers a webshop sends (Standard Webhooks): the signature is ``v1,`` + base64 of
    HMAC-SHA256 over ``{id}.{timestamp}.{body}``, keyed with the secret after ``whsec_``.
    Computed here from the specification, not with the server's own helper, so the smoke
    run checks that both sides agree."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    timestamp = str(int(time.time()))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{digest}",
    }


def wait_for(what: str, probe: Callable[[], Any], *, timeout_s: float) -> Any:
    """Poll ``probe`` until it answers something truthy; ``SmokeFailure`` naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise SmokeFailure(f"{what}: nothing within {timeout_s:.0f} s")
        time.sleep(0.3)


class Demo:
    def __init__(self, *, data_dir: Path, api_port: int, speed: float, smoke: bool) -> None:
        self.data_dir = data_dir
        self.smoke = smoke
        self.speed = speed
        self.api_port = api_port if api_port and port_free(api_port) else free_port()
        self.page_port = free_port()
        self.stop = threading.Event()
        self.children: list[subprocess.Popen[bytes]] = []
        self.settings = Settings(
            environment="development", data_dir=data_dir, database_url="", api_port=self.api_port
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def truck_page_url(self) -> str:
        return f"http://127.0.0.1:{self.page_port}"

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
        truck_cfg = self.data_dir / "truck-agent.toml"
        truck_cfg.write_text(
            truck_config(
                device_id=login.truck_device_id,
                mqtt_url=self.broker.url,
                page_port=self.page_port,
                outbox=self.data_dir / "truck" / "outbox.db",
            )
        )
        self._spawn("truck", [sys.executable, "-m", "edge_agent", "--config", str(truck_cfg)])
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


CHANNELS = ("manual", "portal", "webshop", "schedule", "driver", "weighing")
"""The intake channels, in the order the smoke run makes (and ``intake.json`` lists) them."""


class IntakeRun:
    """One order per intake channel, each made through that channel's real interface, and
    each read back as ``GET /api/v1/orders/{id}`` returns it to the office."""

    def __init__(self, demo: Demo, login: DemoLogin, *, token: str, timeout_s: float) -> None:
        self.api = f"{demo.api_url}/api/v1"
        self.page = demo.truck_page_url
        self.login = login
        self.token = token
        self.timeout_s = timeout_s
        self.tomorrow = date.today() + timedelta(days=1)

    def order(self, order_id: int) -> dict[str, Any]:
        answer: dict[str, Any] = http_json(f"{self.api}/orders/{order_id}", token=self.token)
        return answer

    def by_source(self, source: str, source_ref: str | None = None) -> dict[str, Any] | None:
        """The order of ``source`` with ``source_ref`` (without: the one due first) that the
        office sees."""
        page = http_json(f"{self.api}/orders?source={source}&limit=100", token=self.token)
        items = [i for i in page["items"] if source_ref in (None, i.get("source_ref"))]
        if not items:
            return None
        first = min(items, key=lambda i: (i.get("requested_date") or "", int(i["id"])))
        return self.order(int(first["id"]))

    def manual(self) -> dict[str, Any]:
        """The office types an order in: ``POST /api/v1/orders`` as the planner."""
        made = http_json(
            f"{self.api}/orders",
            token=self.token,
            body={
                "customer_id": self.login.customer_id,
                "order_type": "container_exchange",
                "site_id": self.login.site_id,
                "container_id": self.login.container_id,
                "material_id": self.login.material_id,
                "waste_stream_id": self.login.waste_stream_id,
                "container_type": "afzetcontainer 10m3",
                "requested_date": self.tomorrow.isoformat(),
                "reference": "PO-2024-118",
                "notes": "Wisselen voor 10:00, uitvoerder belt bij aankomst",
            },
        )
        return self.order(int(made["id"]))

    def portal(self) -> dict[str, Any]:
        """The customer asks for a container in the portal, as its own user."""
        token = http_json(
            f"{self.api}/auth/token",
            body={"email": self.login.portal_email, "password": self.login.portal_password},
        )["access_token"]
        made = http_json(
            f"{self.api}/portal/orders",
            token=token,
            body={
                "site_id": self.login.site_id,
                "order_type": "container_place",
                "requested_date": self.tomorrow.isoformat(),
                "container_type": "afzetcontainer 20m3",
                "material_id": self.login.material_id,
                "reference": "Fase 2 sloop binnenwanden",
                "request_id": f"smoke-{uuid.uuid4().hex[:12]}",
            },
        )
        return self.order(int(made["id"]))

    def webshop(self) -> dict[str, Any]:
        """The webshop's signed webhook (Standard Webhooks). A private customer the office
        does not know yet (no match on e-mail or KvK): created, and flagged for review."""
        payload = {
            "shop_order_id": f"WS-{uuid.uuid4().hex[:8]}",
            "customer": {
                "name": "Familie Bakker",
                "email": "j.bakker@example.org",
                "phone": "+31 6 98765432",
                "address": {
                    "street": "Thorbeckegracht 12",
                    "postal_code": "8011 VM",
                    "city": "Zwolle",
                },
            },
            "site": {
                "street": "Thorbeckegracht 12",
                "postal_code": "8011 VM",
                "city": "Zwolle",
                "access_notes": "Op de oprit",
            },
            "order_type": "container_place",
            "container_type": "afzetcontainer 10m3",
            "material_code": "170904",
            "requested_date": self.tomorrow.isoformat(),
            "reference": "Verbouwing keuken",
        }
        body = json.dumps(payload).encode()
        headers = standard_webhook_headers(
            secret=self.login.webhook_secret, body=body, webhook_id=f"msg_{uuid.uuid4().hex}"
        )
        url = f"{self.api}/intake/webshop/{self.login.tenant_slug}"
        status, answer = http_call(url, raw=body, headers=headers)
        if status != 201:
            raise SmokeFailure(f"POST {url} answered {status}: {answer}")
        return self.order(int(answer["order_id"]))

    def schedule(self) -> dict[str, Any]:
        """The daily schedule run: the weekly emptying is due within its days ahead."""
        http_json(f"{self.api}/schedules/run", token=self.token, body={})
        found = self.by_source("schedule")
        if found is None:
            raise SmokeFailure("POST /api/v1/schedules/run made no order")
        return found

    def driver(self) -> dict[str, Any]:
        """The driver fills in "Nieuwe order" on the truck's page: the agent stores it in its
        outbox, sends it over MQTT, ingest makes the order."""
        client_order_id = str(uuid.uuid4())
        form = {
            "client_order_id": client_order_id,
            "order_type": "container_collect",
            "customer_number": self.login.customer_number,
            "address": "Stationsplein 10, Zwolle",
            "postal_code": self.login.site_postal_code,
            "material": "170904",
            "container_type": "afzetcontainer 10m3",
            "reference": "Extra ophaal",
            "notes": "Uitvoerder vroeg om ophalen, container staat vol",
        }

        def page_takes_it() -> bool:
            try:
                status, answer = http_call(f"{self.page}/api/orders", body=form)
            except OSError:
                return False  # the truck's page is not listening yet
            if status == 422:
                raise SmokeFailure(f"the truck's page refused the order: {answer}")
            return status == 200

        wait_for("the truck's page taking the driver's order", page_takes_it,
                 timeout_s=self.timeout_s)  # fmt: skip
        found: dict[str, Any] = wait_for(
            "the driver's order arriving through MQTT and ingest",
            lambda: self.by_source("driver", f"driver:{client_order_id}"),
            timeout_s=self.timeout_s,
        )
        return found

    def weighing(self) -> dict[str, Any]:
        """The order the simulated weighbridge made."""
        page = http_json(f"{self.api}/orders?source=weighing&limit=100", token=self.token)
        done = [o for o in page["items"] if o["status"] == "executed"]
        if not done:
            raise SmokeFailure("no executed order from a weighing")
        return self.order(int(done[-1]["id"]))

    def run(self) -> dict[str, dict[str, Any]]:
        made: dict[str, dict[str, Any]] = {}
        for channel in CHANNELS:
            try:
                order = getattr(self, channel)()
            except SmokeFailure as exc:
                raise SmokeFailure(f"channel {channel}: {exc}") from None
            if order.get("source") != channel:
                raise SmokeFailure(
                    f"channel {channel}: order {order.get('number')} has source "
                    f"{order.get('source')!r}"
                )
            made[channel] = order
        return made


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
            f"\nOMS demo running\n"
            f"  dashboard:   {demo.api_url}/\n"
            f"  login:       {login.email} / {login.password}  (office: owner, planner,"
            f" administrator)\n"
            f"  portal:      {login.portal_email} / {login.portal_password}  (customer"
            f" {login.customer_number})\n"
            f"  driver:      {login.driver_email} / {login.driver_password}\n"
            f"  truck page:  {demo.truck_page_url}/  (the driver's page of {TRUCK_PLATE})\n"
            f"  API docs:    {demo.api_url}/api/docs\n"
            f"  webhook:     POST {demo.api_url}/api/v1/intake/webshop/{login.tenant_slug}"
            f"  secret {login.webhook_secret}\n"
            f"  data:        {data_dir}  (agent and simulator logs there)\n",
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
        if not done:
            return 1
        try:
            intake = IntakeRun(demo, login, token=token, timeout_s=INTAKE_TIMEOUT_S).run()
        except SmokeFailure as exc:
            print(f"smoke: intake failed — {exc}", file=sys.stderr)
            return 1
        (out / "intake.json").write_text(json.dumps(intake, indent=2) + "\n")
        print(
            "smoke: ok — one order per intake channel ("
            + ", ".join(f"{c} {o['number']}" for c, o in intake.items())
            + f") in {time.monotonic() - began:.1f} s; wrote {out / 'intake.json'}",
            flush=True,
        )
        return 0
    finally:
        demo.shutdown()
