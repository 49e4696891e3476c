"""Broker security against a real Mosquitto running the generated config (``oms broker config``)
plus the shipped ``deploy/mosquitto/conf.d``: credentials, per-device ACLs, client-id takeover,
revocation by reload, and the service listener for several ingest workers.

A denied PUBLISH is still acknowledged (PUBACK; reason 0x87 in MQTT v5), so denials are checked
at a receiver. To keep waits short, each check ends with a message that *is* allowed, published
after the denied ones on the same connection: once it arrives, an earlier delivery would have
arrived too (per-connection order); a short grace period covers the other connections.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.orm import Session, sessionmaker

from cloud.broker.config import (
    AccountNameClash,
    Listener,
    build_broker_config,
    write_broker_config,
)
from cloud.db import make_engine, make_sessionmaker, transaction
from cloud.devices.credentials import verify_password
from cloud.devices.models import Device
from cloud.devices.service import (
    DeviceIdInvalid,
    add_device,
    revoke_device,
    rotate_credentials,
)
from cloud.migrations import upgrade
from tests.support.factories import create_world
from tests.support.services import MOSQUITTO_BIN, REPO, Mosquitto, free_port, missing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

GRACE_S = 1.0
INGEST = "oms-ingest"


# -- helpers ----------------------------------------------------------------------------------


def wait_for(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class Conn:
    """A paho 2.x client that records what the broker told it."""

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
        self.connack: mqtt.ReasonCode | None = None
        self.messages: list[tuple[str, bytes]] = []
        self.disconnects: list[object] = []
        self.subacks: list[list[mqtt.ReasonCode]] = []
        self.pubacks: dict[int, mqtt.ReasonCode] = {}
        self._answered = threading.Event()
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        kw: dict[str, object] = {} if v5 else {"clean_session": clean}
        self.c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=proto,
            **kw,  # type: ignore[arg-type]
        )
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.c.on_disconnect = lambda _c, _u, _f, rc, _p=None: self.disconnects.append(rc)
        self.c.on_subscribe = lambda _c, _u, _mid, rcs, _p=None: self.subacks.append(rcs)
        self.c.on_publish = lambda _c, _u, mid, rc, _p=None: self.pubacks.__setitem__(mid, rc)
        self.c.connect("127.0.0.1", port, **({"clean_start": clean} if v5 else {}))
        self.c.loop_start()
        assert self._answered.wait(5), "no CONNACK"
        if self.refused:
            self.c.loop_stop()  # no reconnect attempts

    def _on_connect(self, _c, _u, _flags, rc, _props=None) -> None:  # type: ignore[no-untyped-def]
        if self.connack is None:
            self.connack = rc
        self._answered.set()

    @property
    def refused(self) -> bool:
        return self.connack is None or self.connack.is_failure

    def subscribe(self, *filters: str) -> None:
        before = len(self.subacks)
        for f in filters:
            self.c.subscribe(f, qos=1)
        assert wait_for(lambda: len(self.subacks) >= before + len(filters))

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> mqtt.ReasonCode:
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
class Broker:
    mosquitto: Mosquitto
    out: Path
    factory: sessionmaker[Session]
    passwords: dict[str, str]
    service_port: int | None = None

    @property
    def port(self) -> int:
        return self.mosquitto.port

    def regenerate(self) -> None:
        with transaction(self.factory) as s:
            config = build_broker_config(
                s,
                out=self.out,
                ingest_password=self.passwords[INGEST],
                devices=Listener(self.port, "127.0.0.1"),
                service=Listener(self.service_port) if self.service_port else None,
            )
        write_broker_config(config)

    def reload(self) -> None:
        assert self.mosquitto.proc is not None
        self.mosquitto.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "Reloading config" in self.mosquitto.log_tail())

    def connect(self, user: str | None, *, password: str | None = None, **kw) -> Conn:  # type: ignore[no-untyped-def]
        pw = password if password is not None else self.passwords.get(user or "")
        return Conn(self.port, user, pw, kw.pop("client_id", user or "anon"), **kw)


def start_broker(
    tmp: Path, factory: sessionmaker[Session], passwords: dict[str, str], *, service: bool = False
) -> Broker:
    """Generate the config from the registry and start Mosquitto with conf.d + auth.conf."""
    if not Path(MOSQUITTO_BIN).exists():
        missing("mosquitto", f"{MOSQUITTO_BIN} not found (apt-get install mosquitto)")
    out = tmp / "generated"
    broker = Broker(
        Mosquitto(free_port(), tmp / "mosquitto.conf", tmp),
        out,
        factory,
        passwords,
        service_port=free_port() if service else None,
    )
    broker.regenerate()
    # Mosquitto reads passwd/acl after dropping root; pytest's tmp dirs are 0700, so a test run
    # as root keeps the broker root instead (production: `oms broker config --owner mosquitto`).
    run_as = "user root\n" if os.geteuid() == 0 else ""
    broker.mosquitto.conf.write_text(
        f"{run_as}log_type all\n"
        f"include_dir {(REPO / 'deploy' / 'mosquitto' / 'conf.d').as_posix()}\n"
        f"include_dir {out.as_posix()}\n"
    )
    broker.mosquitto.start()
    if service:
        from tests.support.services import wait_port

        assert wait_port(broker.service_port or 0)
    return broker


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


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    tmp = tmp_path_factory.mktemp("broker")
    factory, passwords = registry(tmp)
    b = start_broker(tmp, factory, passwords)
    yield b
    b.mosquitto.stop()


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
    assert stat.S_IMODE((out / "passwd").stat().st_mode) == 0o600
    users = [line.split(":")[0] for line in (out / "passwd").read_text().splitlines()]
    assert users == ["dev-a", "dev-b", "dev-c", INGEST]  # wb-* have no hash: left out
    acl = (out / "acl").read_text()
    assert "user dev-a\ntopic write oms/v1/dev-a/up/#\ntopic read oms/v1/dev-a/down/#\n" in acl
    assert f"user {INGEST}\ntopic write oms/v1/+/down/#\ntopic read oms/v1/+/up/#\n" in acl
    assert "pattern" not in acl
    auth = (out / "auth.conf").read_text()
    lines = [line for line in auth.splitlines() if line and not line.startswith("#")]
    listener = lines.index(f"listener {broker.port} 127.0.0.1")
    for opt in ("allow_anonymous false", "use_username_as_clientid true"):
        assert lines.index(opt) > listener, opt
    assert f"password_file {out.resolve() / 'passwd'}" in lines
    # A rerun with the same registry and settings writes the same bytes.
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    broker.regenerate()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_ingest_password_is_generated_once_and_kept(tmp_path: Path) -> None:
    factory, _ = registry(tmp_path)
    out = tmp_path / "gen"
    with factory() as s:
        first = build_broker_config(s, out=out)
        assert first.ingest_password is not None
        write_broker_config(first)
        again = build_broker_config(s, out=out)
        assert again.ingest_password is None and again.files["passwd"] == first.files["passwd"]
        line = next(x for x in first.files["passwd"].splitlines() if x.startswith(INGEST + ":"))
        assert verify_password(first.ingest_password, line.split(":", 1)[1])
        with pytest.raises(AccountNameClash):
            build_broker_config(s, out=out, ingest_username="dev-a")
        # A row that bypassed registration never reaches the broker files.
        s.add(Device(id="evil/#", tenant_id=1, kind="truck", credential_hash=line.split(":", 1)[1]))
        s.flush()
        config = build_broker_config(s, out=out)
        assert "evil/#" in config.skipped and "evil" not in config.files["acl"]
        s.rollback()
    if os.geteuid() == 0:
        with factory() as s:
            owned = build_broker_config(s, out=tmp_path / "owned")
        write_broker_config(owned, owner="mosquitto")
        import pwd

        uid = pwd.getpwnam("mosquitto").pw_uid
        assert {p.stat().st_uid for p in (tmp_path / "owned").iterdir()} == {uid}


# -- (a) authentication -----------------------------------------------------------------------


@pytest.mark.parametrize("v5", [True, False], ids=["v5", "v311"])
def test_wrong_unknown_and_anonymous_are_refused(broker: Broker, conns, v5: bool) -> None:  # type: ignore[no-untyped-def]
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


# -- (b) publishing as another device ---------------------------------------------------------


@pytest.mark.parametrize("v5", [True, False], ids=["v5", "v311"])
def test_a_device_cannot_publish_as_another(broker: Broker, conns, v5: bool) -> None:  # type: ignore[no-untyped-def]
    tag = b"v5" if v5 else b"v3"
    # The ingest account through a shared subscription, as `oms ingest` does: its ACL reads
    # `oms/v1/+/up/#`, and deliveries are checked against the topic without `$share/ingest/`.
    shared = broker.connect(INGEST, client_id="ingest-shared")
    conns.append(shared)
    shared.subscribe("$share/ingest/oms/v1/+/up/#")
    a = broker.connect("dev-a", v5=v5)
    conns.append(a)
    denied = [
        a.publish("oms/v1/dev-b/up/weighing", b"spoof-b-" + tag),  # same tenant
        a.publish("oms/v1/dev-c/up/weighing", b"spoof-c-" + tag),  # other tenant
        a.publish("oms/v1/dev-b/down/job", b"spoof-down-" + tag),  # a job for B
        a.publish("oms/v1/dev-a/down/job", b"own-down-" + tag),  # devices do not write down
    ]
    own = a.publish("oms/v1/dev-a/up/weighing", b"own-" + tag)
    assert wait_for(lambda: shared.got(b"own-" + tag)), "the allowed publish arrives"
    time.sleep(GRACE_S)
    assert [p for _, p in shared.messages] == [b"own-" + tag]
    if v5:  # v5 gets the reason in the PUBACK; 3.1.1 only a bare PUBACK
        assert [rc.value for rc in denied] == [135] * len(denied)
        assert not own.is_failure


# -- (c) reading another device's downlink or uplink ------------------------------------------


def test_a_device_cannot_read_other_devices(broker: Broker, conns) -> None:  # type: ignore[no-untyped-def]
    a = broker.connect("dev-a")
    b = broker.connect("dev-b")
    ingest = broker.connect(INGEST)
    conns += [a, b, ingest]
    # Mosquitto 2.0.11 grants these SUBSCRIBEs and filters every delivery against the ACL.
    a.subscribe(
        "oms/v1/dev-b/down/#", "#", "oms/v1/+/up/#", "oms/v1/+/down/#",
        "$share/x/oms/v1/+/up/#", "oms/v1/dev-a/down/#",
    )  # fmt: skip
    b.subscribe("oms/v1/dev-b/down/#")
    for conn, topic, payload in [
        (b, "oms/v1/dev-b/up/heartbeat", b"b-up"),
        (ingest, "oms/v1/dev-b/down/job", b"job-for-b"),
        (ingest, "oms/v1/dev-c/down/job", b"job-for-c"),
        (ingest, "oms/v1/dev-a/down/job", b"job-for-a"),
    ]:
        assert not conn.publish(topic, payload).is_failure
    assert wait_for(lambda: a.got(b"job-for-a")) and wait_for(lambda: b.got(b"job-for-b"))
    time.sleep(GRACE_S)
    # Only A's own downlink, once per matching subscription (`#`, `oms/v1/+/down/#`, ...).
    assert {p for _, p in a.messages} == {b"job-for-a"}


# -- (d) client-id takeover -------------------------------------------------------------------


def test_a_device_cannot_take_over_another_devices_client_id(broker: Broker, conns) -> None:  # type: ignore[no-untyped-def]
    b = broker.connect("dev-b", v5=False, clean=False)
    conns.append(b)
    b.subscribe("oms/v1/dev-b/down/#")
    ingest = broker.connect(INGEST)
    conns.append(ingest)

    thief = broker.connect("dev-a", client_id="dev-b", v5=False, clean=False)
    conns.append(thief)
    assert not thief.refused  # it may connect, but as itself (client id "dev-a")
    ingest.publish("oms/v1/dev-b/down/job", b"live")
    assert wait_for(lambda: b.got(b"live"))
    assert b.c.is_connected() and b.disconnects == [], "B was not kicked off"
    thief.close()

    b.c.disconnect()  # offline with a persistent session: QoS 1 messages are queued for it
    assert wait_for(lambda: len(b.disconnects) == 1)
    b.c.loop_stop()
    ingest.publish("oms/v1/dev-b/down/job", b"queued")
    thief = broker.connect("dev-a", client_id="dev-b", v5=False, clean=False)
    conns.append(thief)
    ingest.publish("oms/v1/dev-a/down/job", b"marker")  # thief has no subscription: nothing
    time.sleep(GRACE_S)
    assert thief.messages == []
    thief.close()

    back = broker.connect("dev-b", v5=False, clean=False)
    conns.append(back)
    assert wait_for(lambda: back.got(b"queued")), "B's queued message waited for B"


# -- (e) revocation and rotation take effect on reload ----------------------------------------


def test_revoked_device_is_refused_after_regenerate_and_sighup(tmp_path: Path, conns) -> None:  # type: ignore[no-untyped-def]
    factory, passwords = registry(tmp_path)
    broker = start_broker(tmp_path, factory, passwords)
    try:
        a = broker.connect("dev-a")
        b = broker.connect("dev-b")
        c = broker.connect("dev-c")
        conns += [a, b, c]
        a.publish("oms/v1/dev-a/up/status", b"a-online", retain=True)
        b.publish("oms/v1/dev-b/up/status", b"b-online", retain=True)
        old_c = passwords["dev-c"]
        with transaction(factory) as s:
            revoke_device(s, device_id="dev-a", reason="stolen")
            passwords["dev-c"] = rotate_credentials(s, device_id="dev-c")
        broker.regenerate()
        broker.reload()
        # Mosquitto 2.0.11 re-reads passwd and acl on SIGHUP and drops connected clients
        # whose credentials no longer check out (revoked, or an old password); B stays.
        assert wait_for(lambda: bool(a.disconnects)) and not a.c.is_connected()
        a.c.loop_stop()
        assert wait_for(lambda: bool(c.disconnects)), "its old password is re-checked too"
        c.c.loop_stop()
        assert broker.connect("dev-a", password=passwords["dev-a"]).refused
        assert broker.connect("dev-c", password=old_c).refused
        assert not broker.connect("dev-c").refused
        assert b.c.is_connected() and b.disconnects == []
        # check_retain_source: the revoked device's retained status is no longer delivered.
        ingest = broker.connect(INGEST)
        conns.append(ingest)
        ingest.subscribe("oms/v1/+/up/status")
        assert wait_for(lambda: ingest.got(b"b-online"))
        time.sleep(0.3)
        assert not ingest.got(b"a-online")
    finally:
        close_all(conns)
        broker.mosquitto.stop()


# -- (f) unsafe ids never become broker users -------------------------------------------------


@pytest.mark.parametrize("bad", ["dev+", "dev#", "#", "+", "dev/a", "oms/v1/x", "Dev-A", "DEV"])
def test_unsafe_ids_are_refused_at_registration(broker: Broker, bad: str) -> None:
    with pytest.raises(DeviceIdInvalid), transaction(broker.factory) as s:
        add_device(s, tenant_id=1, device_id=bad, kind="truck")


# -- several ingest workers: the service listener ---------------------------------------------


def test_service_listener_lets_ingest_workers_share_one_account(tmp_path: Path, conns) -> None:  # type: ignore[no-untyped-def]
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
            w.subscribe("$share/ingest/oms/v1/+/up/#")
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
        broker.mosquitto.stop()


def test_broker_config_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cloud.cli import app
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
        assert {p.name for p in out.iterdir()} == {"passwd", "acl", "auth.conf"}
        assert "listener 11883 127.0.0.1" in (out / "auth.conf").read_text()
        again = runner.invoke(
            app, ["broker", "config", "--out", str(out), "--service-port", "11884"]
        )
        assert again.exit_code == 0 and "shown once" not in again.output
        assert {p.name for p in out.iterdir()} >= {"passwd-service", "acl-service"}
    finally:
        get_settings.cache_clear()
