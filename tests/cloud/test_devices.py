"""Device registry: Mosquitto-compatible credentials, registration/rotation/revocation, the
status API (both dialects), the live SSE stream and the ``oms device`` commands."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs
from typer.testing import CliRunner

from cloud.db import make_engine, make_sessionmaker, transaction, utcnow
from cloud.devices import credentials
from cloud.devices.models import Device
from cloud.devices.service import (
    DeviceExists,
    DeviceIdInvalid,
    DeviceKindInvalid,
    DeviceNotFound,
    DeviceRevoked,
    add_device,
    device_statuses,
    revoke_device,
    rotate_credentials,
)
from cloud.entrypoints.app import create_app
from cloud.ingest.pipeline import Incoming
from cloud.ingest.policy import IngestPolicy
from cloud.ingest.runner import ingest_batch
from cloud.migrations import upgrade
from cloud.references import UnknownReference
from cloud.settings import Settings
from cloud.tenancy.service import create_user, issue_token
from protocols import (
    Heartbeat,
    Measurement,
    PortStatus,
    TagReading,
    WeightReading,
    encode,
    up_topic,
)
from tests.support.factories import create_world
from tests.support.services import free_port, wait_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


# -- credentials (no I/O) ---------------------------------------------------------------------


def test_hash_is_mosquittos_pbkdf2_format() -> None:
    pw = credentials.new_password()
    assert len(pw) >= 43
    hashed = credentials.hash_password(pw)
    _, salt, digest = credentials.parse_hash(hashed)
    assert hashed.startswith(f"$7${credentials.ITERATIONS}$")
    assert (len(salt), len(digest)) == (12, 64)
    assert credentials.verify_password(pw, hashed)
    assert not credentials.verify_password(pw + "x", hashed)
    assert not credentials.verify_password(pw, None)
    assert not credentials.verify_password(pw, "$6$abc$def")
    assert hashed != credentials.hash_password(pw), "a fresh salt every time"


@pytest.mark.skipif(shutil.which("mosquitto_passwd") is None, reason="mosquitto_passwd missing")
def test_verifies_a_hash_written_by_mosquitto_passwd(tmp_path: Path) -> None:
    path = tmp_path / "pw"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(path), "wb-1", "s3cret-Pw"],
        check=True,
        capture_output=True,
    )
    name, _, hashed = path.read_text().strip().partition(":")
    assert name == "wb-1" and hashed.startswith("$7$")
    assert credentials.verify_password("s3cret-Pw", hashed)
    assert not credentials.verify_password("s3cret-pw", hashed)


# -- registry services ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sqlite_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated SQLite database for the dialect-independent service tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('devices') / 'oms.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def world_ids(sqlite_factory: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with transaction(sqlite_factory) as s:
        a = create_world(s, slug="svc-a", device_id="svc-a-wb")
        b = create_world(s, slug="svc-b", device_id="svc-b-wb")
    return a.tenant_id, a.vehicle_id, b.tenant_id, b.site_id


@pytest.mark.parametrize(
    "bad",
    ["wb+1", "wb/#", "#", "+", "a/b", "WB-1", "Wb-1", "-wb", "wb-", "wb 1", "wb\x00", "", "x" * 65,
     "wb.1", "wb_1", "oms-ingest", "stream"],
)  # fmt: skip
def test_registration_refuses_unsafe_ids(sqlite_factory, world_ids, bad: str) -> None:  # type: ignore[no-untyped-def]
    tenant_id = world_ids[0]
    with pytest.raises(DeviceIdInvalid) as err, transaction(sqlite_factory) as s:
        add_device(s, tenant_id=tenant_id, device_id=bad, kind="truck")
    assert err.value.status_code == 422


def test_register_rotate_revoke(sqlite_factory, world_ids) -> None:  # type: ignore[no-untyped-def]
    tenant_a, vehicle_a, tenant_b, site_b = world_ids
    with transaction(sqlite_factory) as s:
        device, pw = add_device(
            s, tenant_id=tenant_a, device_id="truck-7", kind="truck", vehicle_id=vehicle_a
        )
        assert credentials.verify_password(pw, device.credential_hash)
    with pytest.raises(DeviceExists), transaction(sqlite_factory) as s:
        add_device(s, tenant_id=tenant_b, device_id="truck-7", kind="truck")
    with pytest.raises(DeviceKindInvalid), transaction(sqlite_factory) as s:
        add_device(s, tenant_id=tenant_a, device_id="truck-8", kind="boat")
    with pytest.raises(UnknownReference) as foreign, transaction(sqlite_factory) as s:
        add_device(s, tenant_id=tenant_a, device_id="truck-8", kind="truck", site_id=site_b)
    assert foreign.value.field == "site_id" and foreign.value.status_code == 422
    with pytest.raises(UnknownReference) as missing, transaction(sqlite_factory) as s:
        add_device(s, tenant_id=tenant_a, device_id="truck-8", kind="truck", vehicle_id=10**6)
    assert missing.value.field == "vehicle_id"
    with pytest.raises(DeviceNotFound), transaction(sqlite_factory) as s:
        rotate_credentials(s, device_id="truck-7", tenant_id=tenant_b)  # another tenant's

    with transaction(sqlite_factory) as s:
        new_pw = rotate_credentials(s, device_id="truck-7")
    with sqlite_factory() as s:
        stored = s.get(Device, "truck-7")
        assert stored is not None
        assert credentials.verify_password(new_pw, stored.credential_hash)
        assert not credentials.verify_password(pw, stored.credential_hash)

    with transaction(sqlite_factory) as s:
        revoked = revoke_device(s, device_id="truck-7", reason="stolen")
        first_at = revoked.revoked_at
    with transaction(sqlite_factory) as s:  # again: a no-op
        assert revoke_device(s, device_id="truck-7", reason="again").revoked_at == first_at
    with sqlite_factory() as s:
        stored = s.get(Device, "truck-7")
        assert stored is not None and stored.credential_hash is None and not stored.online
    with pytest.raises(DeviceRevoked), transaction(sqlite_factory) as s:
        rotate_credentials(s, device_id="truck-7")


# -- status (both dialects) -------------------------------------------------------------------


def _heartbeat(device_id: str, *, seq: int, drift_s: int, now) -> Heartbeat:  # type: ignore[no-untyped-def]
    return Heartbeat(
        message_id=uuid.uuid4(),
        device_id=device_id,
        seq=seq,
        occurred_at=now + timedelta(seconds=drift_s),
        software_version="1.4.2",
        uptime_s=3600,
        ports=[
            PortStatus(
                name="bridge",
                role="weighbridge",
                profile="toledo_continuous",
                connected=True,
                last_reading_at=now,
                frames_ok=1200,
                frames_bad=2,
            ),
            PortStatus(
                name="rfid",
                role="rfid",
                profile="rfid_allflex",
                connected=False,
                frames_ok=10,
                frames_bad=0,
                last_error="[Errno 2] could not open port /dev/ttyUSB1",
            ),
        ],
        outbox_backlog=12,
        outbox_bytes=4096,
        outbox_budget_bytes=1 << 28,
        outbox_alarm=False,
    )


def _readings(device_id: str, *, seq: int, now) -> Measurement:  # type: ignore[no-untyped-def]
    at = now - timedelta(seconds=30)
    return Measurement(
        message_id=uuid.uuid4(),
        device_id=device_id,
        seq=seq,
        occurred_at=at,
        readings=[
            WeightReading(at=at, channel="bridge", value=Decimal("18240"), unit="kg", stable=True),
            WeightReading(
                at=at + timedelta(seconds=1), channel="bridge", value=Decimal("18260.5"),
                unit="kg", stable=False,
            ),
            TagReading(at=at, channel="rfid", tag_id="000414CD7E"),
        ],
    )  # fmt: skip


def test_status_reflects_heartbeat_and_last_readings(factory) -> None:  # type: ignore[no-untyped-def]
    with transaction(factory) as s:
        w = create_world(s, slug="st", device_id="wb-st")
        add_device(s, tenant_id=w.tenant_id, device_id="truck-st", kind="truck")
    now = utcnow()
    hb = _heartbeat("wb-st", seq=5, drift_s=400, now=now)
    readings = _readings("wb-st", seq=6, now=now)
    ingest_batch(
        factory,
        [
            Incoming(up_topic("wb-st", "heartbeat"), encode(hb)),
            Incoming(up_topic("wb-st", "measurement"), encode(readings)),
        ],
    )
    with factory() as s:
        truck, wb = device_statuses(s, tenant_id=w.tenant_id, now=now + timedelta(seconds=5))
    assert (truck.id, wb.id) == ("truck-st", "wb-st")
    assert wb.state == "online" and wb.online and wb.site_name == "yard"
    assert wb.software_version == "1.4.2" and wb.last_seq == 6
    assert wb.clock_drift is False  # the measurement message after it moved the offset back
    assert wb.outbox is not None and (wb.outbox.backlog, wb.outbox.bytes) == (12, 4096)
    ports = {p.name: p for p in wb.ports}
    assert ports["bridge"].connected and ports["bridge"].frames_bad == 2
    assert not ports["rfid"].connected and "ttyUSB1" in (ports["rfid"].last_error or "")
    last = {r.channel: r for r in wb.last_readings}
    assert last["bridge"].value == Decimal("18260.5") and last["bridge"].stable is False
    assert last["rfid"].kind == "tag" and last["rfid"].tag_id == "000414CD7E"
    assert truck.state == "never_seen" and truck.last_readings == [] and truck.outbox is None

    with factory() as s:
        (later,) = device_statuses(
            s, tenant_id=w.tenant_id, device_id="wb-st", now=now + timedelta(seconds=121)
        )
    assert later.state == "silent" and not later.online and later.reported_online

    hb = _heartbeat("wb-st", seq=7, drift_s=-400, now=now)
    ingest_batch(factory, [Incoming(up_topic("wb-st", "heartbeat"), encode(hb))])
    with factory() as s:
        (drifting,) = device_statuses(s, tenant_id=w.tenant_id, device_id="wb-st", now=now)
    assert drifting.clock_offset_s is not None and drifting.clock_offset_s <= -399
    assert drifting.clock_drift is True


# -- API --------------------------------------------------------------------------------------


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(factory, db_url):  # type: ignore[no-untyped-def]
    app = create_app(Settings(environment="test", database_url=db_url), factory)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def tenants(factory):  # type: ignore[no-untyped-def]
    """acme (planner+administrator token, an owner token) and globex."""
    with transaction(factory) as s:
        a = create_world(s, slug="acme", device_id="wb-a")
        b = create_world(s, slug="globex", device_id="wb-b")
        owner = create_user(
            s, tenant_id=a.tenant_id, email="owner@acme.example", name="Owner",
            password="pw-owner-1", roles=["owner"],
        )  # fmt: skip
        driver = create_user(
            s, tenant_id=a.tenant_id, email="driver@acme.example", name="Driver",
            password="pw-driver-1", roles=["driver"],
        )  # fmt: skip
        owner_token, _ = issue_token(s, user_id=owner.id, ttl=timedelta(hours=1))
        driver_token, _ = issue_token(s, user_id=driver.id, ttl=timedelta(hours=1))
    return a, b, owner_token, driver_token


def test_device_api_roles_and_tenancy(client, tenants) -> None:  # type: ignore[no-untyped-def]
    a, b, owner, driver = tenants
    assert client.get("/api/v1/devices").status_code == 401
    r = client.get("/api/v1/devices", headers=auth(driver))
    assert r.status_code == 403 and r.json()["error"] == "NotAllowed"
    listed = client.get("/api/v1/devices", headers=auth(a.token)).json()
    assert [d["id"] for d in listed] == ["wb-a"]
    assert listed[0]["state"] == "never_seen" and listed[0]["site_name"] == "yard"
    r = client.get("/api/v1/devices/wb-b", headers=auth(a.token))
    assert r.status_code == 404 and r.json()["error"] == "DeviceNotFound"
    for path in ("/wb-b/rotate", "/wb-b/measurements", "/wb-b/positions"):
        method = client.post if path.endswith("rotate") else client.get
        assert method(f"/api/v1/devices{path}", headers=auth(owner)).status_code == 404, path

    body = {"id": "truck-9", "kind": "truck", "vehicle_id": a.vehicle_id, "name": "Volvo"}
    r = client.post("/api/v1/devices", json=body, headers=auth(driver))
    assert r.status_code == 403
    r = client.post("/api/v1/devices", json=body, headers=auth(owner))
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    reg = r.json()
    assert (
        reg["device"]["vehicle_plate"] == "BX-123-Z" and reg["credentials"]["username"] == "truck-9"
    )
    password = reg["credentials"]["password"]
    r = client.post("/api/v1/devices", json=body, headers=auth(a.token))  # administrator
    assert r.status_code == 409 and r.json()["error"] == "DeviceExists"
    for bad in ("Truck-9", "t/9", "t+9", "t#9"):
        r = client.post("/api/v1/devices", json={**body, "id": bad}, headers=auth(owner))
        assert r.status_code == 422 and r.json()["error"] == "DeviceIdInvalid", bad
    for field, foreign in (("vehicle_id", b.vehicle_id), ("site_id", b.site_id)):
        r = client.post(
            "/api/v1/devices", json={**body, "id": "truck-10", field: foreign},
            headers=auth(owner),
        )  # fmt: skip
        assert r.status_code == 422 and r.json()["error"] == "UnknownReference", r.text
        assert r.json()["detail"].startswith(f"{field}:")
        assert "globex" not in r.text and "yard" not in r.text
    assert client.get("/api/v1/devices/truck-10", headers=auth(owner)).status_code == 404

    r = client.post("/api/v1/devices/truck-9/rotate", headers=auth(a.token))
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    assert r.json()["password"] != password
    assert client.post("/api/v1/devices/truck-9/rotate", headers=auth(b.token)).status_code == 404
    r = client.post(
        "/api/v1/devices/truck-9/revoke", json={"reason": "replaced"}, headers=auth(owner)
    )
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    r = client.post("/api/v1/devices/truck-9/rotate", headers=auth(owner))
    assert r.status_code == 409 and r.json()["error"] == "DeviceRevoked"
    r = client.post("/api/v1/devices/truck-9/revoke", json={}, headers=auth(owner))
    assert r.status_code == 422


# -- the SSE stream (a real server: TestClient does not stream an endless response) -----------


class _Server:
    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        assert wait_port(self.port)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def _events(lines: Iterator[str], n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    event = data = ""
    for line in lines:
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and event:
            out.append((event, data))
            event = data = ""
            if len(out) == n:
                break
    return out


def test_stream_sends_status_events_and_stops_when_the_client_leaves(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    with transaction(factory) as s:
        w = create_world(s, slug="sse", device_id="wb-sse")
        driver = create_user(
            s, tenant_id=w.tenant_id, email="d@sse.example", name="D", password="pw-d-1",
            roles=["driver"],
        )  # fmt: skip
        driver_token, _ = issue_token(s, user_id=driver.id, ttl=timedelta(hours=1))
    app = create_app(Settings(environment="test", database_url=url), factory)
    with _Server(app) as base, httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/api/v1/devices/stream").status_code == 401
        r = http.get("/api/v1/devices/stream", headers=auth(driver_token))
        assert r.status_code == 403
        r = http.get("/api/v1/devices/stream?interval=0.1", headers=auth(w.token))
        assert r.status_code == 422
        with capture_logs() as logs:
            t0 = time.monotonic()
            with http.stream(
                "GET", "/api/v1/devices/stream?interval=0.5", headers=auth(w.token)
            ) as r:
                assert r.status_code == 200
                assert r.headers["content-type"].startswith("text/event-stream")
                lines = r.iter_lines()
                (first,) = _events(lines, 1)
                assert first[0] == "devices"
                assert [d["id"] for d in json.loads(first[1])] == ["wb-sse"]
                with transaction(factory) as s:  # a presence change comes through
                    device = s.get(Device, "wb-sse")
                    assert device is not None
                    device.online, device.last_seen_at = True, utcnow()
                (second,) = _events(lines, 1)
                assert json.loads(second[1])[0]["state"] == "online"
                (third,) = _events(lines, 1)  # and again after `interval`, unchanged
                assert third == second
            assert time.monotonic() - t0 < 5
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not any(
                e["event"] == "api.devices.stream_closed" for e in logs
            ):
                time.sleep(0.05)
        closed = [e for e in logs if e["event"] == "api.devices.stream_closed"]
        assert closed and closed[0]["events"] >= 3
        # The header works as well.
        with http.stream("GET", "/api/v1/devices/stream", headers=auth(w.token)) as r:
            assert r.status_code == 200 and _events(r.iter_lines(), 1)[0][0] == "devices"
    engine.dispose()


def test_refused_messages_show_in_the_device_status(client, tenants, factory) -> None:  # type: ignore[no-untyped-def]
    a, _b, _owner, _driver = tenants
    policy = IngestPolicy(dead_letter_rate_per_device=1, dead_letter_rate_window_s=60)
    at = utcnow()
    bad = [Incoming(up_topic("wb-a", "weighing"), b"{nope", at) for _ in range(3)]
    out = ingest_batch(factory, bad, policy=policy)
    assert out.dead == 3 and out.suppressed == 2
    (wb,) = client.get("/api/v1/devices", headers=auth(a.token)).json()
    assert wb["dead_letters"]["kept"] == 1 and wb["dead_letters"]["suppressed"] == 2
    assert wb["dead_letters"]["last_suppressed_at"] is not None


# -- CLI --------------------------------------------------------------------------------------


def test_device_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloud.entrypoints.cli import app
    from cloud.settings import get_settings

    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    engine = make_engine(url)
    with transaction(make_sessionmaker(engine)) as s:
        create_world(s, slug="cli", device_id="wb-cli")
    engine.dispose()
    monkeypatch.setenv("OMS_DATABASE_URL", url)
    monkeypatch.delenv("OMS_MQTT_USERNAME", raising=False)
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        r = runner.invoke(
            app, ["device", "add", "--tenant", "cli", "--id", "truck-c", "--kind", "truck",
                  "--vehicle-plate", "bx123z", "--name", "DAF"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        password = r.output.split("password: ")[1].split()[0]
        r = runner.invoke(
            app, ["device", "add", "--tenant", "cli", "--id", "Truck/#", "--kind", "truck"]
        )
        assert r.exit_code == 1 and "DeviceIdInvalid" in r.output
        r = runner.invoke(
            app, ["device", "add", "--tenant", "nope", "--id", "t-1", "--kind", "truck"]
        )
        assert r.exit_code == 1 and "no tenant" in r.output
        r = runner.invoke(app, ["device", "rotate", "truck-c"])
        assert r.exit_code == 0 and password not in r.output
        r = runner.invoke(app, ["device", "revoke", "truck-c", "--reason", "stolen"])
        assert r.exit_code == 0 and "revoked" in r.output
        r = runner.invoke(app, ["device", "list", "--tenant", "cli"])
        assert r.exit_code == 0
        rows = {line.split("\t")[0]: line.split("\t") for line in r.output.splitlines()[1:]}
        assert rows["truck-c"][3] == "revoked" and rows["wb-cli"][3] == "never_seen"
        r = runner.invoke(app, ["device", "retention", "--older-than-days", "90"])
        assert r.exit_code == 0 and "removed 0 rows" in r.output
    finally:
        get_settings.cache_clear()
