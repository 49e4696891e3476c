"""TLS between the edge agent (and ingest) and a real Mosquitto TLS listener, with a test CA made
here with the ``openssl`` CLI. The listener comes from ``oms broker config --tls-cert/--tls-key``.

- the agent connects and delivers (and gets its receipt) when it trusts the broker's CA;
- it refuses a server certificate from another CA;
- it refuses a certificate for another host name (the agent has no "insecure" switch);
- ingest's client (``cloud/ingest/mqtt.py``) checks the same way.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from cloud.db import make_engine, make_sessionmaker, transaction, utcnow
from cloud.devices.service import rotate_credentials
from cloud.ingest.mqtt import new_client, parse_mqtt_url
from cloud.migrations import upgrade
from edge_agent.config import AgentConfig
from edge_agent.outbox import Outbox
from edge_agent.uplink import Uplink
from protocols import Receipt, decode, encode
from tests.support.factories import create_world, ticket
from tests.support.services import (
    INGEST_USER,
    GeneratedBroker,
    MqttProbe,
    missing,
    start_generated_mosquitto,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DEVICE = "wb-tls"


@dataclass
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(d: Path, name: str) -> Path:
    openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
        "-subj", f"/CN=OMS test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    return d / f"{name}.pem"


def make_server_cert(d: Path, ca: str, name: str, san: str) -> tuple[Path, Path]:
    openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={san.split(':')[-1]}",
        cwd=d,
    )  # fmt: skip
    (d / f"{name}.ext").write_text(
        f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
        "authorityKeyIdentifier=keyid\n"
    )
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext",
        cwd=d,
    )  # fmt: skip
    return d / f"{name}.pem", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    if not shutil.which("openssl"):
        missing("openssl", "the openssl CLI makes the test CA")
    d = tmp_path_factory.mktemp("pki")
    ca = make_ca(d, "ca")
    other = make_ca(d, "other-ca")
    cert, key = make_server_cert(d, "ca", "broker", "DNS:localhost")
    return Pki(ca, other, cert, key)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[GeneratedBroker]:
    """Devices on a TLS listener; ingest (the probes here) on a plain loopback service
    listener, as the README suggests for production."""
    tmp = tmp_path_factory.mktemp("broker-tls")
    url = f"sqlite:///{tmp / 'oms.db'}"
    upgrade(url)
    factory = make_sessionmaker(make_engine(url))
    passwords = {INGEST_USER: "ingest-secret-tls"}
    with transaction(factory) as s:
        create_world(s, slug="acme", device_id=DEVICE)
        passwords[DEVICE] = rotate_credentials(s, device_id=DEVICE)
    b = start_generated_mosquitto(tmp, factory, passwords, service=True, tls=(pki.cert, pki.key))
    yield b
    b.stop()


def agent(tmp_path: Path, broker: GeneratedBroker, *, url: str, ca: Path) -> Uplink:
    cfg = AgentConfig(
        device_id=DEVICE,
        mqtt={"url": url, "password": broker.passwords[DEVICE], "ca_file": ca},  # type: ignore[arg-type]
        outbox={"path": tmp_path / "outbox.db"},  # type: ignore[arg-type]
    )
    return Uplink(cfg, Outbox(cfg.outbox.path))


def ingest_probe(broker: GeneratedBroker) -> MqttProbe:
    probe = MqttProbe(
        broker.service_port or 0, INGEST_USER, broker.passwords[INGEST_USER], f"i-{uuid.uuid4()}"
    )
    probe.subscribe("oms/v1/+/up/weighing")
    return probe


def test_the_generated_listener_speaks_tls_only(broker: GeneratedBroker, pki: Pki) -> None:
    auth = (broker.out / "auth.conf").read_text().splitlines()
    listener = auth.index(f"listener {broker.port} 127.0.0.1")
    assert auth[listener + 2 : listener + 5] == [
        f"certfile {pki.cert.resolve()}",
        f"keyfile {pki.key.resolve()}",
        "tls_version tlsv1.2",
    ]
    # Plain MQTT on the TLS port gets no CONNACK.
    with pytest.raises(AssertionError, match="no CONNACK"):
        MqttProbe(broker.port, DEVICE, broker.passwords[DEVICE], DEVICE)


def test_the_agent_delivers_over_tls_with_the_right_ca(
    tmp_path: Path, broker: GeneratedBroker, pki: Pki
) -> None:
    ingest = ingest_probe(broker)
    uplink = agent(tmp_path, broker, url=f"mqtts://localhost:{broker.port}", ca=pki.ca)
    msg = uplink.outbox.append(lambda seq, mid: ticket(DEVICE, seq=seq, message_id=mid))
    uplink.start()
    try:
        assert wait_for(lambda: ingest.got(encode(msg)), timeout=10), "delivered over TLS"
        assert decode(ingest.messages[0][1]).message_id == msg.message_id
        receipt = Receipt(
            message_id=uuid.uuid4(),
            device_id=DEVICE,
            seq=0,
            occurred_at=utcnow(),
            committed=[msg.message_id],
        )
        ingest.publish(f"oms/v1/{DEVICE}/down/receipt", encode(receipt))
        assert wait_for(lambda: uplink.stats.acknowledged == 1), "the receipt came back over TLS"
        assert uplink.outbox.pending(limit=10) == []
    finally:
        uplink.stop()
        ingest.close()


@pytest.mark.parametrize(
    "case",
    ["server cert from another CA", "wrong host name"],
)
def test_the_agent_refuses_an_untrusted_server(
    tmp_path: Path, broker: GeneratedBroker, pki: Pki, case: str
) -> None:
    if case == "server cert from another CA":
        url, ca = f"mqtts://localhost:{broker.port}", pki.other_ca
    else:  # the certificate names localhost only
        url, ca = f"mqtts://127.0.0.1:{broker.port}", pki.ca
    ingest = ingest_probe(broker)
    uplink = agent(tmp_path, broker, url=url, ca=ca)
    uplink.outbox.append(lambda seq, mid: ticket(DEVICE, seq=seq, message_id=mid))
    before = broker.mosquitto.log_tail().count("OpenSSL Error")
    with capture_logs() as logs:
        uplink.start()
        try:
            # The broker sees the agent abort the handshake (an alert), not a login.
            assert wait_for(
                lambda: broker.mosquitto.log_tail().count("OpenSSL Error") > before, timeout=10
            ), broker.mosquitto.log_tail()
            assert wait_for(lambda: any(e["event"] == "edge_agent.connect_failed" for e in logs))
            time.sleep(0.3)
            assert not uplink.connected and uplink.stats.connects == 0
            assert ingest.messages == []
        finally:
            uplink.stop()
            ingest.close()
    failed = next(e for e in logs if e["event"] == "edge_agent.connect_failed")
    assert failed["tls"] is True and failed["url"] == url


def test_a_ca_file_with_a_plain_url_is_warned_about(tmp_path: Path, pki: Pki) -> None:
    cfg = AgentConfig(
        device_id=DEVICE,
        mqtt={"url": "mqtt://127.0.0.1:1883", "ca_file": pki.ca},  # type: ignore[arg-type]
        outbox={"path": tmp_path / "outbox.db"},  # type: ignore[arg-type]
    )
    with capture_logs() as logs:
        Uplink(cfg, Outbox(cfg.outbox.path))
    assert [e["event"] for e in logs] == ["edge_agent.tls_not_used"]


def test_ingest_client_checks_the_broker_certificate(broker: GeneratedBroker, pki: Pki) -> None:
    good = parse_mqtt_url(
        f"mqtts://localhost:{broker.port}", username=DEVICE, password=broker.passwords[DEVICE]
    )
    client = new_client(f"tls-{uuid.uuid4()}", v5=True, address=good, ca_file=str(pki.ca))
    assert client.connect(good.host, good.port) == 0  # handshake done, CONNECT sent
    client.disconnect()
    for url, ca in [
        (f"mqtts://localhost:{broker.port}", pki.other_ca),
        (f"mqtts://127.0.0.1:{broker.port}", pki.ca),
    ]:
        addr = parse_mqtt_url(url, username=DEVICE, password=broker.passwords[DEVICE])
        bad = new_client(f"tls-{uuid.uuid4()}", v5=True, address=addr, ca_file=str(ca))
        with pytest.raises(ssl.SSLCertVerificationError):
            bad.connect(addr.host, addr.port)


def test_broker_config_command_writes_the_tls_listener(
    tmp_path: Path, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cloud.entrypoints.cli import app
    from cloud.settings import get_settings

    url = f"sqlite:///{tmp_path / 'oms.db'}"
    upgrade(url)
    monkeypatch.setenv("OMS_DATABASE_URL", url)
    monkeypatch.setenv("OMS_MQTT_PASSWORD", "ingest-secret-cli")
    get_settings.cache_clear()
    out = tmp_path / "cfg"
    base = ["broker", "config", "--out", str(out), "--port", "8883", "--tls-cert", str(pki.cert)]
    try:
        runner = CliRunner()
        alone = runner.invoke(app, base)
        assert alone.exit_code == 1 and "both a certificate and its key" in alone.output
        missing_key = runner.invoke(app, [*base, "--tls-key", str(tmp_path / "nope.key")])
        assert missing_key.exit_code == 1 and "not found" in missing_key.output
        ok = runner.invoke(app, [*base, "--tls-key", str(pki.key)])
        assert ok.exit_code == 0, ok.output
        auth = (out / "auth.conf").read_text()
        assert "listener 8883 127.0.0.1\n# TLS" in auth
        assert f"certfile {pki.cert.resolve()}\nkeyfile {pki.key.resolve()}\n" in auth
    finally:
        get_settings.cache_clear()
