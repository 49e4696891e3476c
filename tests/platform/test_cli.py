"""``oms tenant`` and ``oms user``: an operator sets a company up without Python. The password
is printed once, alone on the last line; errors are one line on stderr with exit code 1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from cloud.audit.models import FieldChange
from cloud.customers.service import create_customer
from cloud.db import transaction
from cloud.entrypoints.cli import app
from cloud.settings import get_settings
from cloud.tenancy.models import ApiToken, User
from cloud.tenancy.security import verify_password
from tests.support import services

REPO = Path(__file__).resolve().parents[2]
OMS = Path(sys.executable).parent / "oms"


@pytest.fixture
def oms(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("OMS_DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        yield CliRunner()
    finally:
        get_settings.cache_clear()


def _run(runner: CliRunner, *args: str, code: int = 0) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == code, r.output
    return r.stdout if code == 0 else r.stderr


@pytest.mark.integration
def test_tenant_and_user_commands(oms: CliRunner, factory: sessionmaker[Session]) -> None:
    out = _run(oms, "tenant", "create", "--slug", "acme", "--name", "Acme Transport B.V.")
    assert "tenant acme created" in out
    assert "acme" in _run(oms, "tenant", "list")

    out = _run(
        oms, "user", "add", "--tenant", "acme", "--email", "Baas@Acme.example",
        "--role", "owner", "--role", "planner", "--name", "De Baas",
    )  # fmt: skip
    *lines, password = out.strip().splitlines()
    assert "baas@acme.example" in lines[0] and "owner,planner" in lines[0]
    with factory() as s:
        user = s.scalars(select(User).where(User.email == "baas@acme.example")).one()
        assert user.name == "De Baas" and user.role_names == {"owner", "planner"}
        assert verify_password(password, user.password_hash)
        fields = s.scalars(
            select(FieldChange.field).where(
                FieldChange.entity == "user", FieldChange.entity_id == user.id
            )
        ).all()
        assert {"email", "name", "roles", "is_active"} <= set(fields)
        tenant_id = user.tenant_id

    with transaction(factory) as s:
        create_customer(s, tenant_id=tenant_id, number="1001", name="Bouwbedrijf")
    out = _run(
        oms, "user", "add", "--tenant", "acme", "--email", "klant@bouw.example",
        "--role", "customer", "--customer", "1001",
    )  # fmt: skip
    assert "customer 1001" in out
    listed = _run(oms, "user", "list", "--tenant", "acme").splitlines()
    assert listed[0].split() == ["email", "name", "roles", "state", "customer", "locale"]
    rows = {line.split()[0]: line.split() for line in listed[1:]}
    assert rows["klant@bouw.example"][2:] == ["customer", "active", "1001", "nl"]
    assert rows["baas@acme.example"][-3:] == ["owner,planner", "active", "nl"]

    # reset-password: a new one on the last line, the old one and all tokens are gone
    with transaction(factory) as s:
        from cloud.tenancy.service import issue_token

        issue_token(s, user_id=user.id, ttl=None)
    out = _run(oms, "user", "reset-password", "--tenant", "acme", "--email", "baas@acme.example")
    new_password = out.strip().splitlines()[-1]
    assert new_password != password and len(new_password) >= 20
    with factory() as s:
        hashed = s.scalar(select(User.password_hash).where(User.id == user.id))
        assert verify_password(new_password, hashed) and not verify_password(password, hashed)
        assert s.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == user.id)).all()
        assert (
            None
            not in s.scalars(select(ApiToken.revoked_at).where(ApiToken.user_id == user.id)).all()
        )

    # the last owner cannot be disabled; another user can, and enabled again
    err = _run(oms, "user", "disable", "--tenant", "acme", "--email", "baas@acme.example", code=1)
    assert err.startswith("error: LastOwner:")
    _run(oms, "user", "disable", "--tenant", "acme", "--email", "klant@bouw.example")
    assert "disabled" in _run(oms, "user", "list", "--tenant", "acme")
    _run(oms, "user", "enable", "--tenant", "acme", "--email", "klant@bouw.example")
    assert "disabled" not in _run(oms, "user", "list", "--tenant", "acme")


@pytest.mark.integration
def test_clear_errors(oms: CliRunner, factory: sessionmaker[Session]) -> None:
    _run(oms, "tenant", "create", "--slug", "acme", "--name", "Acme")
    _run(oms, "user", "add", "--tenant", "acme", "--email", "a@acme.example", "--role", "owner")
    add = ("user", "add", "--tenant", "acme", "--email", "b@acme.example")
    cases = [
        (("tenant", "create", "--slug", "acme", "--name", "Again"), "TenantExists"),
        (("tenant", "create", "--slug", "Not A Slug", "--name", "X"), "--slug:"),
        (("user", "add", "--tenant", "nope", "--email", "b@x.example", "--role", "owner"),
         "TenantNotFound: no tenant 'nope'"),
        ((*add, "--role", "boss"), "--role: Input should be 'owner'"),
        ((*add[:-1], "not-an-address", "--role", "owner"), "--email:"),
        (("user", "add", "--tenant", "acme", "--email", "A@acme.example", "--role", "planner"),
         "EmailTaken"),
        ((*add, "--role", "customer"), "CustomerLinkInvalid: a customer user needs"),
        ((*add, "--role", "customer", "--customer", "9999"),
         "UnknownCustomerNumber: no customer with number '9999'"),
        ((*add, "--role", "planner", "--locale", "fr"), "--locale:"),
        (("user", "disable", "--tenant", "acme", "--email", "ghost@acme.example"),
         "UserNotFound"),
        (("user", "reset-password", "--tenant", "acme", "--email", "ghost@acme.example"),
         "UserNotFound"),
    ]  # fmt: skip
    for args, message in cases:
        err = _run(oms, *args, code=1)
        assert err.startswith("error: ") and message in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err
    with factory() as s:
        assert s.scalars(select(User.email)).all() == ["a@acme.example"]
    # No --role at all is a usage error (exit code 2).
    assert oms.invoke(app, list(add)).exit_code == 2


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_first_install_with_the_real_command(tmp_path: Path) -> None:
    """The README's first install, process by process, on an empty PostgreSQL database:
    migrate, create the tenant, add its owner, serve, log in with the printed password."""
    if not OMS.exists():
        pytest.fail(f"{OMS} is missing: run `pip install -e .`")
    why = services.pg_available()
    if why is not None:
        services.missing("PostgreSQL", why)
    with services.pg_database() as url:
        env = {
            **os.environ,
            "OMS_ENVIRONMENT": "production",
            "OMS_SECRET_KEY": "a-production-secret-for-tests-only",
            "OMS_DATABASE_URL": url,
            "OMS_DATA_DIR": str(tmp_path / "data"),
        }

        def oms(*args: str) -> str:
            done = subprocess.run(
                [str(OMS), *args], env=env, cwd=tmp_path, capture_output=True, text=True,
                timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        oms("db", "upgrade")
        oms("tenant", "create", "--slug", "acme", "--name", "Acme Transport B.V.")
        out = oms("user", "add", "--tenant", "acme", "--email", "owner@acme.example",
                  "--role", "owner")  # fmt: skip
        password = out.strip().splitlines()[-1]

        port = services.free_port()
        log = (tmp_path / "serve.log").open("wb")
        proc = subprocess.Popen(
            [str(OMS), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            up = services.wait_for(
                lambda: proc.poll() is not None or services.wait_port(port, 0.2), timeout=60
            )
            assert up and proc.poll() is None, (tmp_path / "serve.log").read_text()
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
                r = http.post(
                    "/api/v1/auth/token", json={"email": "owner@acme.example", "password": password}
                )
                assert r.status_code == 200, r.text
                headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
                me = http.get("/api/v1/me", headers=headers).json()
                assert me["roles"] == ["owner"] and "user.manage" in me["actions"]
                users = http.get("/api/v1/users", headers=headers).json()
                assert [u["email"] for u in users] == ["owner@acme.example"]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
