"""Logins as an outsider meets them: real ``oms serve`` processes in production mode on
PostgreSQL. Wrong password, unknown user and disabled user answer alike and take the same
time; failures are throttled per account and per address, counted in the database so that a
second API process refuses what the first one counted; every attempt is logged, without the
password."""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.tenancy.models import User
from cloud.tenancy.service import create_user
from tests.support.factories import create_world
from tests.support.services import REPO, free_port, wait_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

PASSWORD = "secret-pw"
SECRET = "a-production-secret-for-tests-only"


class Api:
    """One ``oms serve`` process; its output goes to a file in the test's tmp dir."""

    def __init__(self, tmp: Path, name: str, pg_url: str, **settings: int) -> None:
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        env = {
            **os.environ,
            "OMS_ENVIRONMENT": "production",
            "OMS_SECRET_KEY": SECRET,
            "OMS_DATABASE_URL": pg_url,
            "OMS_DATA_DIR": str(tmp / "data"),
            **{f"OMS_{k.upper()}": str(v) for k, v in settings.items()},
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cloud.entrypoints.cli", "serve", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env=env,
            )
        assert wait_port(self.port, 30), self.log()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=30)

    def login(self, email: str, password: str = "Wr0ng-guess") -> httpx.Response:
        return self.http.post("/api/v1/auth/token", json={"email": email, "password": password})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def world_url(pg_url: str) -> Iterator[str]:
    engine = make_engine(pg_url)
    with transaction(make_sessionmaker(engine)) as s:
        w = create_world(s)
        create_user(
            s, tenant_id=w.tenant_id, email="gone@acme.example", name="Gone",
            password=PASSWORD, roles=["planner"],
        )  # fmt: skip
        s.scalars(select(User).where(User.email == "gone@acme.example")).one().is_active = False
    engine.dispose()
    yield pg_url


def test_unknown_disabled_and_wrong_password_take_the_same_time(
    world_url: str, tmp_path: Path
) -> None:
    api = Api(
        tmp_path, "api", world_url,
        login_max_failures_per_account=1000, login_max_failures_per_address=1000,
    )  # fmt: skip
    try:
        cases = {
            "wrong password": lambda: api.login("planner@acme.example"),
            "unknown user": lambda: api.login(f"{uuid.uuid4().hex[:8]}@acme.example"),
            "disabled user": lambda: api.login("gone@acme.example", PASSWORD),
        }
        for attempt in cases.values():  # warm up (the dummy hash is made on first use)
            r = attempt()
            assert r.status_code == 401, r.text
            assert r.json() == {"error": "InvalidCredentials", "detail": "wrong e-mail or password"}
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(9):
            for name, attempt in cases.items():
                t0 = time.perf_counter()
                assert attempt().status_code == 401
                times[name].append(time.perf_counter() - t0)
        medians = {name: statistics.median(t) for name, t in times.items()}
        assert max(medians.values()) / min(medians.values()) < 3, medians
    finally:
        api.stop()


def test_failures_are_throttled_across_processes_and_logged(world_url: str, tmp_path: Path) -> None:
    limits = {
        "login_max_failures_per_account": 3,
        "login_max_failures_per_address": 8,
        "login_lockout_s": 60,
    }
    one = Api(tmp_path, "one", world_url, **limits)
    two = Api(tmp_path, "two", world_url, **limits)
    try:
        for _ in range(3):
            assert one.login("planner@acme.example").status_code == 401
        # The other process counts the same failures: the right password is not even checked.
        r = two.login("planner@acme.example", PASSWORD)
        assert r.status_code == 429, r.text
        assert r.json()["error"] == "LoginThrottled" and "account" in r.json()["detail"]
        assert 1 <= int(r.headers["retry-after"]) <= 60
        # 8 failures from this address, over any accounts, lock the address.
        for i in range(5):
            assert two.login(f"guess{i}@acme.example").status_code == 401
        r = one.login("gone@acme.example", PASSWORD)
        assert r.status_code == 429 and "address" in r.json()["detail"]
        assert int(r.headers["retry-after"]) >= 1
        # NUL at login is refused at the edge (PostgreSQL answered 500 before).
        r = one.http.post("/api/v1/auth/token", json={"email": "a\x00@b.nl", "password": "x"})
        assert r.status_code == 422 and r.json()["error"] == "ValidationError"
        # Production: no API docs, security headers on the page.
        assert one.http.get("/api/docs").status_code == 404
        page = one.http.get("/")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
    finally:
        one.stop()
        two.stop()
    logs = one.log() + two.log()
    assert logs.count("tenancy.login_failed") == 8, logs[-3000:]
    assert logs.count("tenancy.login_throttled") == 2, logs[-3000:]
    assert "p***@acme.example" in logs and "address=127.0.0.1" in logs
    assert "planner@acme.example" not in logs and PASSWORD not in logs and "Wr0ng-guess" not in logs


def test_parallel_guesses_get_no_more_password_checks_than_the_limit(
    world_url: str, tmp_path: Path
) -> None:
    """The check (count the recent failures) and the record (store this one) are one step per
    account and per address: 20 guesses sent at once, which the API runs in parallel threads,
    get exactly the per-account budget of password checks, and 429 for the rest."""
    limit = 3
    api = Api(
        tmp_path, "api", world_url,
        login_max_failures_per_account=limit, login_max_failures_per_address=1000,
        login_lockout_s=60,
    )  # fmt: skip
    start = threading.Barrier(20)

    def guess(_: int) -> int:
        with httpx.Client(base_url=str(api.http.base_url), timeout=60) as http:
            start.wait()
            r = http.post(
                "/api/v1/auth/token",
                json={"email": "planner@acme.example", "password": "Wr0ng-guess"},
            )
            return r.status_code

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            codes = list(pool.map(guess, range(20)))
    finally:
        api.stop()
    assert sorted(set(codes)) == [401, 429], codes
    assert codes.count(401) == limit, codes
    assert api.log().count("tenancy.login_failed") == limit
