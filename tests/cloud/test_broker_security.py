"""The generated broker configuration (``oms broker config``) on a real Mosquitto with the
shipped ``deploy/mosquitto/conf.d``: the files, authentication, how registry changes are applied
(restart, not SIGHUP: the dynamic-security plugin reads its file at start only), and the service
listener for several ingest workers. What a device may and may not do once connected (publish,
subscribe, read, client ids, revocation) is attacked in ``tests/security/test_broker_acl.py``.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.broker.config import (
    AccountNameClash,
    DynsecPluginNotFound,
    build_broker_config,
    write_broker_config,
)
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.credentials import verify_password
from cloud.devices.models import Device
from cloud.devices.service import DeviceIdInvalid, add_device, revoke_device, rotate_credentials
from cloud.migrations import upgrade
from tests.support.factories import create_world
from tests.support.services import INGEST_USER as INGEST
from tests.support.services import GeneratedBroker as Broker
from tests.support.services import MqttProbe as Conn
from tests.support.services import start_generated_mosquitto, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def registry(tmp: Path) -> tuple[sessionmaker[Session], dict[str, str]]:
    """Devices dev-a, dev-b (tenant acme), dev-c (globex) with passwords; wb-acme has none."""
    url = f"sqlite:///{tmp / 'oms.db'}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    passwords = {INGEST: "ingest-secret-1"}
    with transaction(factory) as s:
        acme = create_world(s, slug="acme", device_id="wb-acme")
        globex = create_world(s, slug="globex", device_id="wb-globex")
        for tenant_id, device_id in ((acme.tenant_id, "dev-a"), (acme.tenant_id, "dev-b"),
                                     (globex.tenant_id, "dev-c")):  # fmt: skip
            _, passwords[device_id] = add_device(
                s, tenant_id=tenant_id, device_id=device_id, kind="truck"
            )
    return factory, passwords


def start_broker(
    tmp: Path, factory: sessionmaker[Session], passwords: dict[str, str], *, service: bool = False
) -> Broker:
    return start_generated_mosquitto(tmp, factory, passwords, service=service)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    tmp = tmp_path_factory.mktemp("broker")
    factory, passwords = registry(tmp)
    b = start_broker(tmp, factory, passwords)
    yield b
    b.stop()


def close_all(opened: list[Conn]) -> None:
    """Before the broker stops: a client left running would sit in its reconnect back-off."""
    for c in opened:
        c.close()
    opened.clear()


@pytest.fixture
def conns() -> Iterator[list[Conn]]:
    opened: list[Conn] = []
    yield opened
    close_all(opened)


# -- the generated files ----------------------------------------------------------------------


def test_generated_files(broker: Broker) -> None:
    out = broker.out
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        "dynsec.json",
        "auth.conf",
    }
    assert stat.S_IMODE((out / "dynsec.json").stat().st_mode) == 0o600
    doc = json.loads((out / "dynsec.json").read_text())
    assert doc["defaultACLAccess"] == {
        "publishClientSend": False,
        "publishClientReceive": False,
        "subscribe": False,
        "unsubscribe": True,
    }
    clients = {c["username"]: c for c in doc["clients"]}
    assert list(clients) == ["dev-a", "dev-b", "dev-c", INGEST]  # wb-* have no hash: left out
    # The registry's $7$ hash, split into the plugin's fields: the device password still works.
    a = clients["dev-a"]
    hashed = f"$7${a['iterations']}${a['salt']}${a['password']}"
    assert verify_password(broker.passwords["dev-a"], hashed)
    roles = {r["rolename"]: r["acls"] for r in doc["roles"]}
    assert a["roles"] == [{"rolename": "oms-dev-a"}]
    assert roles["oms-dev-a"] == [
        {"acltype": "publishClientSend", "topic": "oms/v1/dev-a/up/#", "allow": True},
        {"acltype": "publishClientReceive", "topic": "oms/v1/dev-a/down/#", "allow": True},
        {"acltype": "subscribePattern", "topic": "oms/v1/dev-a/down/#", "allow": True},
    ]
    assert roles[f"oms-{INGEST}"] == [
        {"acltype": "publishClientSend", "topic": "oms/v1/+/down/#", "allow": True},
        {"acltype": "publishClientReceive", "topic": "oms/v1/+/up/#", "allow": True},
        {"acltype": "subscribePattern", "topic": "oms/v1/+/up/#", "allow": True},
        {"acltype": "subscribePattern", "topic": "$share/+/oms/v1/+/up/#", "allow": True},
    ]
    assert "%" not in (out / "dynsec.json").read_text()  # no pattern substitution
    auth = (out / "auth.conf").read_text()
    lines = [line for line in auth.splitlines() if line and not line.startswith("#")]
    listener = lines.index(f"listener {broker.port} 127.0.0.1")
    for opt in ("allow_anonymous false", "use_username_as_clientid true"):
        assert lines.index(opt) > listener, opt
    assert f"plugin_opt_config_file {out.resolve() / 'dynsec.json'}" in lines
    assert not any(line.startswith(("password_file", "acl_file")) for line in lines)
    # A rerun with the same registry and settings writes the same bytes.
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broker.regenerate()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_ingest_password_is_generated_once_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory, _ = registry(tmp_path)
    out = tmp_path / "gen"
    with factory() as s:
        first = build_broker_config(s, out=out)
        assert first.ingest_password is not None
        write_broker_config(first)
        again = build_broker_config(s, out=out)
        assert again.ingest_password is None
        assert again.files["dynsec.json"] == first.files["dynsec.json"]
        ingest = next(
            c for c in json.loads(first.files["dynsec.json"])["clients"] if c["username"] == INGEST
        )
        hashed = f"$7${ingest['iterations']}${ingest['salt']}${ingest['password']}"
        assert verify_password(first.ingest_password, hashed)
        with pytest.raises(AccountNameClash):
            build_broker_config(s, out=out, ingest_username="dev-a")
        # A row that bypassed registration never reaches the broker files.
        s.add(Device(id="evil/#", tenant_id=1, kind="truck", credential_hash=hashed))
        s.flush()
        config = build_broker_config(s, out=out)
        assert "evil/#" in config.skipped and "evil" not in config.files["dynsec.json"]
        s.rollback()
        from cloud.broker import config as broker_config

        with monkeypatch.context() as m, pytest.raises(DynsecPluginNotFound):
            m.setattr(broker_config, "DYNSEC_PLUGIN_GLOBS", (str(tmp_path / "no" / "*.so"),))
            build_broker_config(s, out=out)
    # The acl_file layout of earlier versions is cleaned up, its ingest hash kept.
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "passwd").write_text(f"{INGEST}:{hashed}\n")
    (legacy / "acl").write_text("user x\n")
    with factory() as s:
        migrated = build_broker_config(s, out=legacy)
    assert (
        migrated.ingest_password is None and hashed.split("$")[3] in migrated.files["dynsec.json"]
    )
    write_broker_config(migrated)
    assert {p.name for p in legacy.iterdir()} == {"dynsec.json", "auth.conf"}
    if os.geteuid() == 0:
        with factory() as s:
            owned = build_broker_config(s, out=tmp_path / "owned")
        write_broker_config(owned, owner="mosquitto")
        import pwd

        uid = pwd.getpwnam("mosquitto").pw_uid
        assert {p.stat().st_uid for p in (tmp_path / "owned").iterdir()} == {uid}


# -- (a) authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("v5", [True, False], ids=["v5", "v311"])
def test_wrong_unknown_and_anonymous_are_refused(
    broker: Broker, conns: list[Conn], v5: bool
) -> None:
    for user, password in [
        ("dev-a", "wrong-password"),
        ("dev-a", broker.passwords["dev-b"]),  # someone else's password
        ("nobody", "whatever"),
        ("wb-acme", "anything"),  # registered without credentials
        (None, None),  # anonymous
    ]:
        c = broker.connect(user, password=password, client_id="probe", v5=v5)
        conns.append(c)
        assert c.refused, (user, password)
        assert c.connack is not None and c.connack.value in (134, 135), (user, c.connack)
    ok = broker.connect("dev-a", v5=v5)
    conns.append(ok)
    assert not ok.refused


# -- applying registry changes: restart, not SIGHUP ------------------------------------------


def test_registry_changes_apply_on_restart_not_on_sighup(tmp_path: Path, conns: list[Conn]) -> None:
    """Mosquitto 2.0.11 reads dynsec.json only at start. A reload leaves a revoked device
    connected and able to log in again (this test pins that, so the README's "restart" stays
    true); a restart applies revocation and rotation, and persistent sessions survive it."""
    factory, passwords = registry(tmp_path)
    broker = start_broker(tmp_path, factory, passwords)
    try:
        a = broker.connect("dev-a")
        conns.append(a)
        old_c = passwords["dev-c"]
        with transaction(factory) as s:
            revoke_device(s, device_id="dev-a", reason="stolen")
            passwords["dev-c"] = rotate_credentials(s, device_id="dev-c")
        broker.regenerate()
        assert "dev-a" not in (broker.out / "dynsec.json").read_text()
        broker.reload()
        assert a.c.is_connected() and a.disconnects == [], "SIGHUP does not apply dynsec.json"
        probe = broker.connect("dev-a", password=passwords["dev-a"], client_id="x")
        conns.append(probe)
        assert not probe.refused, "still accepted after a reload: a restart is needed"
        rotated = broker.connect("dev-c", password=old_c, client_id="y")
        conns.append(rotated)
        assert not rotated.refused, "the old password too"
        close_all(conns)

        # A persistent session of another device, with a message queued while it is away.
        b = broker.connect("dev-b", v5=False, clean=False)
        b.subscribe("oms/v1/dev-b/down/#")
        b.close()
        ingest = broker.connect(INGEST)
        ingest.publish("oms/v1/dev-b/down/job", b"queued-before-restart")
        ingest.close()

        broker.restart()
        assert broker.connect("dev-a", password=passwords["dev-a"]).refused
        assert broker.connect("dev-c", password=old_c).refused
        c = broker.connect("dev-c")
        back = broker.connect("dev-b", v5=False, clean=False)
        conns += [c, back]
        assert not c.refused
        assert wait_for(lambda: back.got(b"queued-before-restart")), "the session survived"
    finally:
        close_all(conns)
        broker.stop()


# -- (f) unsafe ids never become broker users -------------------------------------------------


@pytest.mark.parametrize("bad", ["dev+", "dev#", "#", "+", "dev/a", "oms/v1/x", "Dev-A", "DEV"])
def test_unsafe_ids_are_refused_at_registration(broker: Broker, bad: str) -> None:
    with pytest.raises(DeviceIdInvalid), transaction(broker.factory) as s:
        add_device(s, tenant_id=1, device_id=bad, kind="truck")


# -- several ingest workers: the service listener ---------------------------------------------


def test_service_listener_lets_ingest_workers_share_one_account(
    tmp_path: Path, conns: list[Conn]
) -> None:
    factory, passwords = registry(tmp_path)
    broker = start_broker(tmp_path, factory, passwords, service=True)
    sport = broker.service_port or 0
    try:
        # On the device listener two connections of one account take each other's client id.
        assert broker.connect(INGEST).refused, "the ingest account exists on the service port only"
        w0 = Conn(sport, INGEST, passwords[INGEST], "oms-ingest-0")
        w1 = Conn(sport, INGEST, passwords[INGEST], "oms-ingest-1")
        conns += [w0, w1]
        for w in (w0, w1):
            assert not w.refused
            assert not w.subscribe("$share/ingest/oms/v1/+/up/#")[0].is_failure
        assert Conn(sport, "dev-a", passwords["dev-a"], "dev-b").refused, "no devices here"
        a = broker.connect("dev-a")
        conns.append(a)
        for i in range(6):
            a.publish("oms/v1/dev-a/up/measurement", b"m%d" % i)
        assert wait_for(lambda: len(w0.messages) + len(w1.messages) == 6)
        assert w0.messages and w1.messages, "the shared subscription spread the load"
        assert w0.disconnects == [] and w1.disconnects == []
        assert not w0.publish("oms/v1/dev-a/down/receipt", b"r").is_failure
        assert w0.publish("oms/v1/dev-a/up/weighing", b"fake").value == 135
    finally:
        close_all(conns)
        broker.stop()


def test_broker_config_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cloud.entrypoints.cli import app
    from cloud.settings import get_settings

    registry(tmp_path)
    monkeypatch.setenv("OMS_DATABASE_URL", f"sqlite:///{tmp_path / 'oms.db'}")
    monkeypatch.delenv("OMS_MQTT_USERNAME", raising=False)
    monkeypatch.delenv("OMS_MQTT_PASSWORD", raising=False)
    get_settings.cache_clear()
    out = tmp_path / "cfg"
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["broker", "config", "--out", str(out), "--port", "11883"])
        assert first.exit_code == 0, first.output
        assert "3 devices" in first.output and "password (shown once)" in first.output
        assert {p.name for p in out.iterdir()} == {"dynsec.json", "auth.conf"}
        assert "listener 11883 127.0.0.1" in (out / "auth.conf").read_text()
        again = runner.invoke(
            app, ["broker", "config", "--out", str(out), "--service-port", "11884"]
        )
        assert again.exit_code == 0 and "shown once" not in again.output
        assert {p.name for p in out.iterdir()} == {
            "dynsec.json",
            "passwd-service",
            "acl-service",
            "auth.conf",
        }
        assert "restart mosquitto" in again.output
    finally:
        get_settings.cache_clear()
