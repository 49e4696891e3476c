"""MQTT uplink: drains the outbox, applies receipts, receives jobs.

* paho-mqtt 2.x, QoS 1. MQTT v5 with ``clean_start=False`` and a session expiry; when the broker
  refuses v5 (the embedded broker speaks 3.1.1 only) the client falls back to 3.1.1 with
  ``clean_session=False``.
* A message leaves the outbox only when a ``Receipt`` names it, never on PUBACK: a broker
  restart may lose what it acknowledged. Unreceipted messages are published again after
  ``resend_after_s`` and after every reconnect; the cloud deduplicates on ``message_id``.
* The last will publishes ``Status(online=false)`` retained; on connect the agent publishes
  ``Status(online=true)`` retained.
* TLS (``mqtts://``): the broker's certificate must chain to ``mqtt.ca_file`` (the system's CAs
  when unset) and name the URL's host. There is no switch to skip either check; a failed
  handshake is logged and retried (``tests/cloud/test_broker_tls.py``).
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_agent import __version__
from edge_agent.clock import Clock, SystemClock
from edge_agent.config import AgentConfig
from edge_agent.outbox import Outbox
from protocols import (
    ContractError,
    Envelope,
    Heartbeat,
    Receipt,
    Status,
    UpStream,
    decode_down,
    device_downlink_filter,
    encode,
    up_topic,
)

log = structlog.get_logger("edge_agent.uplink")
TLS_SCHEMES = ("mqtts", "ssl")
UNSUPPORTED_PROTOCOL = {1, 132}  # 3.1.1 CONNACK rc 1, v5 reason 0x84
CONNACK_TIMEOUT_S = 5.0
"""A broker that does not speak v5 may neither answer nor close: fall back after this."""


@dataclass
class UplinkStats:
    connects: int = 0
    published: int = 0
    republished: int = 0
    receipts: int = 0
    acknowledged: int = 0
    rejected: int = 0
    bad_downlink: int = 0


class Uplink:
    def __init__(
        self,
        cfg: AgentConfig,
        outbox: Outbox,
        *,
        on_down: Callable[[Envelope], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.on_down = on_down
        self.clock = clock or SystemClock()
        self.stats = UplinkStats()
        self.v5 = cfg.mqtt.protocol != "3.1.1"
        self._inflight: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._fallback = False
        self._connect_started = 0.0
        self._thread = threading.Thread(target=self._publisher, name="uplink", daemon=True)
        self.client = self._new_client()

    # -- client ------------------------------------------------------------------------------

    def _new_client(self) -> mqtt.Client:
        c = self.cfg.mqtt
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.cfg.device_id,
            protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
            clean_session=None if self.v5 else False,
        )
        user = c.username or self.cfg.device_id
        client.username_pw_set(user, c.password.get_secret_value() if c.password else None)
        if urlparse(c.url).scheme in TLS_SCHEMES:
            # paho's default context: certificate chain and host name are both checked.
            client.tls_set(
                ca_certs=str(c.ca_file) if c.ca_file else None, cert_reqs=ssl.CERT_REQUIRED
            )
        elif c.ca_file is not None:
            log.warning("edge_agent.tls_not_used", url=c.url, ca_file=str(c.ca_file))
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(max(20, self.cfg.outbox.inflight))
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _status(self, online: bool, reason: str) -> bytes:
        return encode(
            Status(
                message_id=uuid.uuid4(),
                device_id=self.cfg.device_id,
                seq=self.outbox.last_seq(),
                occurred_at=self.clock.now(),
                online=online,
                reason=reason,
                software_version=__version__,
            )
        )

    def _connect(self) -> None:
        u = urlparse(self.cfg.mqtt.url)
        host = u.hostname or "127.0.0.1"
        port = u.port or (8883 if u.scheme in TLS_SCHEMES else 1883)
        self._connect_started = self.clock.monotonic()
        status_topic = up_topic(self.cfg.device_id, UpStream.STATUS)
        self.client.will_set(
            status_topic, self._status(False, "connection lost (last will)"), qos=1, retain=True
        )
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = self.cfg.mqtt.session_expiry_s
            self.client.connect_async(
                host, port, keepalive=self.cfg.mqtt.keepalive_s, clean_start=False, properties=props
            )
        else:
            self.client.connect_async(host, port, keepalive=self.cfg.mqtt.keepalive_s)
        self.client.loop_start()

    def start(self) -> None:
        self._connect()
        self._thread.start()

    def stop(self, reason: str = "shutdown") -> None:
        self._stop.set()
        self._wake.set()
        if self._connected.is_set():
            info = self.client.publish(
                up_topic(self.cfg.device_id, UpStream.STATUS),
                self._status(False, reason),
                qos=1,
                retain=True,
            )
            with contextlib.suppress(RuntimeError, ValueError):  # not connected any more
                info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wake(self) -> None:
        self._wake.set()

    def publish_presence(self, msg: Heartbeat | Status) -> None:
        """Heartbeats and status: not from the outbox, lost if offline (the next one follows)."""
        if self._connected.is_set():
            self.client.publish(up_topic(self.cfg.device_id, msg.type), encode(msg), qos=1)

    # -- callbacks (paho thread) ---------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _ud: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        _props: object,
    ) -> None:
        if reason_code.is_failure:
            log.warning("edge_agent.connect_refused", reason=str(reason_code), v5=self.v5)
            if (
                self.v5
                and self.cfg.mqtt.protocol == "auto"
                and reason_code.value in UNSUPPORTED_PROTOCOL
            ):
                self._fallback = True
                self._wake.set()
            return
        self.stats.connects += 1
        with self._lock:
            self._inflight.clear()  # everything unreceipted goes again on this connection
        self._connected.set()
        client.subscribe(device_downlink_filter(self.cfg.device_id), qos=1)
        client.publish(
            up_topic(self.cfg.device_id, UpStream.STATUS),
            self._status(True, "connected"),
            qos=1,
            retain=True,
        )
        log.info("edge_agent.connected", v5=self.v5, session_present=flags.session_present)
        self._wake.set()

    def _on_connect_fail(self, _c: mqtt.Client, _ud: object) -> None:
        """No CONNACK: the broker is unreachable, or the TLS handshake failed (a certificate
        that does not chain to ``ca_file`` or does not name the host)."""
        log.warning(
            "edge_agent.connect_failed",
            url=self.cfg.mqtt.url,
            tls=urlparse(self.cfg.mqtt.url).scheme in TLS_SCHEMES,
        )

    def _on_disconnect(
        self,
        _c: mqtt.Client,
        _ud: object,
        _flags: object,
        reason_code: mqtt.ReasonCode,
        _props: object,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("edge_agent.disconnected", reason=str(reason_code))
            if self.v5 and self.cfg.mqtt.protocol == "auto" and self.stats.connects == 0:
                # A broker that does not speak v5 may just close the connection.
                self._fallback = True
                self._wake.set()

    def _on_message(self, _c: mqtt.Client, _ud: object, msg: mqtt.MQTTMessage) -> None:
        try:
            _, down = decode_down(msg.topic, bytes(msg.payload))
        except ContractError as exc:
            self.stats.bad_downlink += 1
            log.warning("edge_agent.bad_downlink", topic=msg.topic, error=str(exc))
            return
        if isinstance(down, Receipt):
            self._apply_receipt(down)
        elif self.on_down is not None:
            self.on_down(down)

    def _apply_receipt(self, receipt: Receipt) -> None:
        ids = [str(m) for m in receipt.committed]
        self.stats.receipts += 1
        self.stats.acknowledged += self.outbox.acknowledge(ids)
        self.stats.rejected += self.outbox.reject(receipt.rejected)
        for r in receipt.rejected:
            log.error("edge_agent.message_rejected", message_id=str(r.message_id), reason=r.reason)
        with self._lock:
            for m in ids:
                self._inflight.pop(m, None)
            for r in receipt.rejected:
                self._inflight.pop(str(r.message_id), None)
        self._wake.set()

    # -- publisher thread ----------------------------------------------------------------

    def _publisher(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.5)
            self._wake.clear()
            if (
                self.v5
                and self.cfg.mqtt.protocol == "auto"
                and self.stats.connects == 0
                and self.clock.monotonic() - self._connect_started > CONNACK_TIMEOUT_S
            ):
                log.warning("edge_agent.no_connack", after_s=CONNACK_TIMEOUT_S)
                self._fallback = True
            if self._fallback:
                self._fallback = False
                log.info("edge_agent.mqtt_fallback", to="3.1.1")
                self.client.loop_stop()
                self.v5 = False
                self.client = self._new_client()
                self._connect()
                continue
            if not self._connected.is_set():
                continue
            try:
                self._publish_some()
            except Exception:
                log.exception("edge_agent.publish_failed")

    def _publish_some(self) -> None:
        now = self.clock.monotonic()
        with self._lock:
            for mid, sent in list(self._inflight.items()):
                if now - sent > self.cfg.outbox.resend_after_s:
                    del self._inflight[mid]
                    self.stats.republished += 1
            room = self.cfg.outbox.inflight - len(self._inflight)
            exclude = list(self._inflight)
        if room <= 0:
            return
        rows = self.outbox.pending(limit=room, exclude=exclude)
        for row in rows:
            info = self.client.publish(up_topic(self.cfg.device_id, row.type), row.payload, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                break
            with self._lock:
                self._inflight[row.message_id] = now
            self.stats.published += 1
        if len(rows) == room:
            self._wake.set()  # more waiting
