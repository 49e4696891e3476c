"""MQTT plumbing shared by ingest and the device dispatcher: URLs, clients, receipts."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from cloud.db import utcnow
from protocols import DownStream, Receipt, Rejection, down_topic, encode


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_mqtt_url(
    url: str, *, username: str | None = None, password: str | None = None
) -> BrokerAddress:
    """``mqtt://[user:pass@]host:port`` or ``mqtts://...`` (TLS, default port 8883)."""
    u = urlparse(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"MQTT URL {url!r} must start with mqtt:// or mqtts://")
    tls = u.scheme in ("mqtts", "ssl")
    return BrokerAddress(
        host=u.hostname or "127.0.0.1",
        port=u.port or (8883 if tls else 1883),
        tls=tls,
        username=username or u.username,
        password=password or u.password,
    )


def new_client(
    client_id: str,
    *,
    v5: bool,
    address: BrokerAddress,
    manual_ack: bool = False,
    persistent: bool = True,
    ca_file: str | None = None,
) -> mqtt.Client:
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else not persistent,
        manual_ack=manual_ack,
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        # paho's default context: the broker's certificate must chain to ``ca_file`` (the
        # system's CAs when None) and name ``address.host``; there is no switch to skip that.
        client.tls_set(ca_certs=ca_file, cert_reqs=ssl.CERT_REQUIRED)
    # Come back quickly after a broker restart: Mosquitto 2.0 does not restore shared
    # subscriptions, so until ingest subscribes again device messages find no subscriber.
    # (paho takes seconds as a float; its annotation says int.)
    client.reconnect_delay_set(min_delay=0.5, max_delay=5)  # type: ignore[arg-type]
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    return client


def connect_properties(session_expiry_s: int, receive_maximum: int = 10_000) -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = session_expiry_s
    props.ReceiveMaximum = receive_maximum
    return props


def receipts_for(
    committed: dict[str, list[uuid.UUID]],
    rejected: dict[str, list[Rejection]],
    *,
    chunk: int = 5000,
) -> list[tuple[str, bytes]]:
    """(topic, payload) per device: which messages are committed and which were refused."""
    out: list[tuple[str, bytes]] = []
    for device_id in sorted(set(committed) | set(rejected)):
        ids = committed.get(device_id, [])
        rej = rejected.get(device_id, [])
        for start in range(0, max(len(ids), len(rej), 1), chunk):
            receipt = Receipt(
                message_id=uuid.uuid4(),
                device_id=device_id,
                seq=0,
                occurred_at=utcnow(),
                committed=ids[start : start + chunk],
                rejected=rej[start : start + chunk],
            )
            out.append((down_topic(device_id, DownStream.RECEIPT), encode(receipt)))
    return out
