"""Real services for tests: a fresh PostgreSQL database (with TimescaleDB when installed) and a
Mosquitto broker started from the project's config. Missing services skip loudly, or fail the
run when ``CI=true``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

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


def _psycopg_connect(url: str):  # type: ignore[no-untyped-def]
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
