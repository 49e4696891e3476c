"""Real services for tests: a fresh PostgreSQL database (with TimescaleDB when installed) and a
Mosquitto broker started from the project's config. Missing services skip loudly, or fail the
run when ``CI=true``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from paho.mqtt.reasoncodes import ReasonCode
    from sqlalchemy.orm import Session, sessionmaker

REPO = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("OMS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
MOSQUITTO_BIN = os.environ.get(
    "OMS_TEST_MOSQUITTO", shutil.which("mosquitto") or "/usr/sbin/mosquitto"
)
SKIPPED: list[str] = []


def shared_dir() -> Path:
    """The team's shared reference folder: ``$OMS_SHARED_DIR``, else ``../shared`` next to the
    checkout, else a ``shared`` folder next to one of its parents (a clone nested deeper)."""
    if os.environ.get("OMS_SHARED_DIR"):
        return Path(os.environ["OMS_SHARED_DIR"])
    for parent in REPO.parents:
        candidate = parent / "shared"
        if (candidate / "reference").is_dir():
            return candidate
    return REPO.parent / "shared"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(service: str, why: str) -> None:
    """Skip the test (recorded for the loud summary), or fail it in CI."""
    msg = f"{service} unavailable: {why}"
    if in_ci():
        pytest.fail(f"{msg} (CI=true: every service must be present)", pytrace=False)
    SKIPPED.append(msg)
    pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


# -- PostgreSQL -------------------------------------------------------------------------------


def _psycopg_connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(url, autocommit=True, connect_timeout=3)


def pg_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        with _psycopg_connect(PG_ADMIN_URL) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001
        return str(exc).splitlines()[0]
    return None


def timescale_available() -> bool:
    with _psycopg_connect(PG_ADMIN_URL) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()
    return bool(row) and "timescaledb" in (preload[0] if preload else "")


@contextmanager
def pg_database(prefix: str = "oms_test") -> Iterator[str]:
    """A new, empty database; dropped afterwards. Yields its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _psycopg_connect(PG_ADMIN_URL) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with _psycopg_connect(PG_ADMIN_URL) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- Mosquitto --------------------------------------------------------------------------------


@dataclass
class Mosquitto:
    port: int
    conf: Path
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen(
            [MOSQUITTO_BIN, "-c", str(self.conf)], stdout=log, stderr=subprocess.STDOUT
        )
        if not wait_port(self.port):
            self.stop()
            raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log_tail()}")

    def stop(self, *, kill: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            if kill:
                self.proc.kill()
            else:
                self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


def mosquitto_conf(port: int, workdir: Path, *, extra: str = "") -> str:
    """A broker config for tests: our shipped limits (conf.d) plus a loopback listener."""
    # As root, Mosquitto drops to the "mosquitto" user, which may not write the test's own
    # (0700) directory: it would silently lose its persistence file.
    user = "user root\n" if os.geteuid() == 0 else ""
    return (
        f"{user}persistence true\npersistence_location {workdir.as_posix()}/\n"
        f"include_dir {(REPO / 'deploy' / 'mosquitto' / 'conf.d').as_posix()}\n"
        f"listener {port} 127.0.0.1\nallow_anonymous true\n{extra}"
    )


def start_mosquitto(workdir: Path, *, extra: str = "") -> Mosquitto:
    if not Path(MOSQUITTO_BIN).exists():
        missing("mosquitto", f"{MOSQUITTO_BIN} not found (apt-get install mosquitto)")
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(mosquitto_conf(port, workdir, extra=extra))
    broker = Mosquitto(port, conf, workdir)
    broker.start()
    return broker


# -- PostgreSQL restarts (fault tests) ---------------------------------------------------------


def pg_cluster() -> tuple[str, str] | None:
    """(version, name) of the local cluster serving 127.0.0.1:5432, when we may restart it."""
    if not shutil.which("pg_ctlcluster") or not shutil.which("pg_lsclusters"):
        return None
    out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "5432":
            return parts[0], parts[1]
    return None


def pg_stop_immediate_and_start(down_s: float = 2.0) -> float:
    """``pg_ctlcluster ... stop -m immediate`` (a crash, no checkpoint), wait, start again.
    Returns how long PostgreSQL was unavailable."""
    cluster = pg_cluster()
    if cluster is None:
        missing("pg_ctlcluster", "cannot restart the local PostgreSQL cluster")
    assert cluster is not None
    version, name = cluster
    began = time.monotonic()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "stop", "-m", "immediate"],
        check=True,
        capture_output=True,
    )
    time.sleep(down_s)
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"],
        check=True,
        capture_output=True,
    )
    while pg_available() is not None:
        time.sleep(0.2)
    return time.monotonic() - began


# -- Mosquitto with the generated config (`oms broker config`) ---------------------------------

INGEST_USER = "oms-ingest"


def wait_for(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class MqttProbe:
    """A paho 2.x client that records what the broker told it: CONNACK, SUBACKs, PUBACKs,
    messages and disconnects."""

    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str,
        *,
        v5: bool = True,
        clean: bool = True,
    ) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.connack: ReasonCode | None = None
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects: list[object] = []
        self.subacks: list[list[ReasonCode]] = []
        self.pubacks: dict[int, ReasonCode] = {}
        self._answered = threading.Event()
        kw: dict[str, object] = {} if v5 else {"clean_session": clean}
        self.c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            **kw,  # type: ignore[arg-type]
        )
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.c.on_disconnect = lambda _c, _u, _f, rc, _p=None: self.disconnects.append(rc)
        self.c.on_subscribe = lambda _c, _u, _mid, rcs, _p=None: self.subacks.append(rcs)
        self.c.on_publish = lambda _c, _u, mid, rc, _p=None: self.pubacks.__setitem__(mid, rc)
        if v5:
            self.c.connect("127.0.0.1", port, clean_start=clean)
        else:
            self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self._answered.wait(5), "no CONNACK"
        if self.refused:
            self.c.loop_stop()  # no reconnect attempts

    def _on_connect(
        self, _c: object, _u: object, _f: object, rc: ReasonCode, _p: object = None
    ) -> None:
        if self.connack is None:
            self.connack = rc
        self._answered.set()

    @property
    def refused(self) -> bool:
        return self.connack is None or self.connack.is_failure

    def subscribe(self, *filters: str) -> list[ReasonCode]:
        """Subscribe to each filter (one SUBSCRIBE each) and return the broker's answers."""
        before = len(self.subacks)
        for f in filters:
            self.c.subscribe(f, qos=1)
        assert wait_for(lambda: len(self.subacks) >= before + len(filters)), "no SUBACK"
        return [rc for rcs in self.subacks[before:] for rc in rcs]

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> ReasonCode:
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(5)
        assert wait_for(lambda: info.mid in self.pubacks)
        return self.pubacks[info.mid]

    def got(self, payload: bytes) -> bool:
        return any(p == payload for _, p in self.messages)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@dataclass
class GeneratedBroker:
    """A Mosquitto running ``deploy/mosquitto/conf.d`` plus what ``oms broker config``
    generates from the registry behind ``factory``; ``passwords`` maps user names to their
    plaintext passwords (the ingest account's under :data:`INGEST_USER`)."""

    mosquitto: Mosquitto
    out: Path
    factory: sessionmaker[Session]
    passwords: dict[str, str]
    service_port: int | None = None
    tls: tuple[Path, Path] | None = None
    """(certfile, keyfile): the device listener speaks TLS only."""

    @property
    def port(self) -> int:
        return self.mosquitto.port

    @property
    def url(self) -> str:
        return f"mqtts://localhost:{self.port}" if self.tls else self.mosquitto.url

    def regenerate(self) -> None:
        from cloud.broker.config import Listener, build_broker_config, write_broker_config
        from cloud.db import transaction

        with transaction(self.factory) as s:
            config = build_broker_config(
                s,
                out=self.out,
                ingest_username=INGEST_USER,
                ingest_password=self.passwords[INGEST_USER],
                devices=Listener(
                    self.port,
                    "127.0.0.1",
                    certfile=self.tls[0] if self.tls else None,
                    keyfile=self.tls[1] if self.tls else None,
                ),
                service=Listener(self.service_port) if self.service_port else None,
            )
        write_broker_config(config)

    def reload(self) -> None:
        """SIGHUP, and wait until the broker says it reloaded."""
        assert self.mosquitto.proc is not None
        before = self.mosquitto.log_tail().count("Reloading config")
        self.mosquitto.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: self.mosquitto.log_tail().count("Reloading config") > before)

    def restart(self) -> None:
        """What applying a regenerated config takes (``systemctl restart mosquitto``)."""
        self.mosquitto.restart()
        if self.service_port:
            assert wait_port(self.service_port)

    def connect(self, user: str | None, *, password: str | None = None, **kw: Any) -> MqttProbe:
        pw = password if password is not None else self.passwords.get(user or "")
        return MqttProbe(self.port, user, pw, kw.pop("client_id", user or "anon"), **kw)

    def stop(self) -> None:
        self.mosquitto.stop()


def start_generated_mosquitto(
    workdir: Path,
    factory: sessionmaker[Session],
    passwords: dict[str, str],
    *,
    service: bool = False,
    tls: tuple[Path, Path] | None = None,
) -> GeneratedBroker:
    """Generate the config from the registry and start Mosquitto with conf.d + the generated
    directory, with persistence as in production (sessions survive a restart). ``tls``:
    (certfile, keyfile) for a TLS device listener."""
    if not Path(MOSQUITTO_BIN).exists():
        missing("mosquitto", f"{MOSQUITTO_BIN} not found (apt-get install mosquitto)")
    out = workdir / "generated"
    broker = GeneratedBroker(
        Mosquitto(free_port(), workdir / "mosquitto.conf", workdir),
        out,
        factory,
        passwords,
        service_port=free_port() if service else None,
        tls=tls,
    )
    broker.regenerate()
    # Mosquitto reads the generated files after dropping root; pytest's tmp dirs are 0700, so a
    # run as root keeps the broker root instead (production: `oms broker config --owner ...`).
    run_as = "user root\n" if os.geteuid() == 0 else ""
    broker.mosquitto.conf.write_text(
        f"{run_as}log_type all\n"
        f"persistence true\npersistence_location {workdir.as_posix()}/\n"
        f"include_dir {(REPO / 'deploy' / 'mosquitto' / 'conf.d').as_posix()}\n"
        f"include_dir {out.as_posix()}\n"
    )
    broker.mosquitto.start()
    if service:
        assert wait_port(broker.service_port or 0)
    return broker
