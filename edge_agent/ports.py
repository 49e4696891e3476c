"""Serial port readers: open a pyserial URL, feed the profile's framer, hand readings on.

One thread per port. A bad frame is counted and skipped; a lost port is reported (and the
workflow drops its current weight) and reopened with backoff; nothing here ever dies on input.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import serial
import structlog
from serial.urlhandler.protocol_socket import Serial as SocketSerial

from edge_agent.clock import Clock, SystemClock
from edge_agent.config import PortConfig
from firmware_profiles import FirmwareProfile, ProfileError, Reading, get_profile

log = structlog.get_logger("edge_agent.ports")

_PARITY = {
    "N": serial.PARITY_NONE,
    "E": serial.PARITY_EVEN,
    "O": serial.PARITY_ODD,
    "M": serial.PARITY_MARK,
    "S": serial.PARITY_SPACE,
}
_BYTESIZE = {5: serial.FIVEBITS, 6: serial.SIXBITS, 7: serial.SEVENBITS, 8: serial.EIGHTBITS}
_STOPBITS = {1: serial.STOPBITS_ONE, 2: serial.STOPBITS_TWO}


@dataclass
class PortState:
    name: str
    role: str
    profile: str
    connected: bool = False
    last_reading_at: datetime | None = None
    frames_ok: int = 0
    frames_bad: int = 0
    bytes_discarded: int = 0
    reconnects: int = 0
    last_error: str | None = None
    errors_by_kind: dict[str, int] = field(default_factory=dict)


ReadingSink = Callable[[str, Reading, datetime], None]
LossSink = Callable[[str, str], None]


def open_port(
    cfg: PortConfig, profile: FirmwareProfile, *, timeout: float = 0.2
) -> serial.SerialBase:
    s = profile.serial
    o = cfg.serial
    port = serial.serial_for_url(
        cfg.url,
        do_not_open=True,
        baudrate=o.baudrate or s.baudrate,
        bytesize=_BYTESIZE[o.bytesize or s.bytesize],
        parity=_PARITY[o.parity or s.parity],
        stopbits=_STOPBITS[o.stopbits or s.stopbits],
        rtscts=o.rtscts,
        xonxoff=o.xonxoff,
        timeout=timeout,
    )
    if o.dtr is not None:
        port.dtr = o.dtr
    if o.rts is not None:
        port.rts = o.rts
    port.open()
    return port


def read_available(port: serial.SerialBase) -> bytes:
    """Wait (up to the port timeout) for a byte, then take whatever else has arrived, so a
    10 Hz stream costs a few reads a second, not one per byte."""
    data = port.read(1)
    if not data or not port.in_waiting:
        return data
    if isinstance(port, SocketSerial):
        # socket:// reports at most 1 byte waiting; a zero timeout drains what is there.
        timeout = port.timeout
        port.timeout = 0
        try:
            return data + port.read(4096)
        finally:
            port.timeout = timeout
    return data + port.read(port.in_waiting)


class PortReader(threading.Thread):
    def __init__(
        self,
        cfg: PortConfig,
        *,
        on_reading: ReadingSink,
        on_lost: LossSink,
        clock: Clock | None = None,
        backoff_max_s: float = 10.0,
    ) -> None:
        super().__init__(name=f"port-{cfg.name}", daemon=True)
        self.cfg = cfg
        self.profile = get_profile(cfg.profile, **cfg.options)
        self.on_reading = on_reading
        self.on_lost = on_lost
        self.clock = clock or SystemClock()
        self.backoff_max_s = backoff_max_s
        self.state = PortState(cfg.name, cfg.role, cfg.profile)
        self._halt = threading.Event()

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        first = min(0.5, self.backoff_max_s)
        delay = first
        while not self._halt.is_set():
            try:
                # In poll mode a read must not outlast the poll interval, or polls come late.
                timeout = min(0.2, self.cfg.poll_interval_s) if self.profile.mode == "poll" else 0.2
                port = open_port(self.cfg, self.profile, timeout=timeout)
            except (serial.SerialException, OSError, ValueError) as exc:
                self._lost(f"open failed: {exc}")
                self._halt.wait(delay)
                delay = min(delay * 2, self.backoff_max_s)
                continue
            self.state.connected = True
            self.state.last_error = None
            log.info("edge_agent.port_open", port=self.cfg.name, url=self.cfg.url)
            try:
                self._pump(port)
                delay = first
            except (serial.SerialException, OSError) as exc:
                self._lost(f"read failed: {exc}")
            finally:
                with contextlib.suppress(Exception):  # closing a broken port may fail too
                    port.close()
            if not self._halt.is_set():
                self.state.reconnects += 1
                self._halt.wait(delay)
                delay = min(delay * 2, self.backoff_max_s)

    def _lost(self, why: str) -> None:
        was = self.state.connected
        self.state.connected = False
        self.state.last_error = why
        if was:
            log.warning("edge_agent.port_lost", port=self.cfg.name, error=why)
        self.on_lost(self.cfg.name, why)

    def _pump(self, port: serial.SerialBase) -> None:
        framer = self.profile.framer()
        poll = self.profile.mode == "poll" and self.profile.poll_request is not None
        next_poll = 0.0
        while not self._halt.is_set():
            if poll:
                now = self.clock.monotonic()
                if now >= next_poll:
                    port.write(self.profile.poll_request or b"")
                    next_poll = now + self.cfg.poll_interval_s
            data = read_available(port)
            if not data:
                continue
            log.debug("edge_agent.port_bytes", port=self.cfg.name, raw=data.hex())
            before = framer.discarded
            for frame in framer.feed(data):  # a half frame at connect is cut off by the framer
                self._handle(frame)
            self.state.bytes_discarded += framer.discarded - before

    def _handle(self, frame: bytes) -> None:
        try:
            reading = self.profile.parse(frame)
        except ProfileError as exc:
            self.state.frames_bad += 1
            kind = type(exc).__name__
            self.state.errors_by_kind[kind] = self.state.errors_by_kind.get(kind, 0) + 1
            log.info(
                "edge_agent.bad_frame", port=self.cfg.name, error=f"{kind}: {exc}", raw=frame.hex()
            )
            return
        self.state.frames_ok += 1
        at = self.clock.now()
        self.state.last_reading_at = at
        self.on_reading(self.cfg.name, reading, at)
