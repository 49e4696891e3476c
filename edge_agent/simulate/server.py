"""The simulator: plays a scenario and serves it on TCP ports the way a serial-to-Ethernet
converter would, for the agent to read through pyserial ``socket://`` URLs.

Continuous profiles broadcast a frame at ``rate`` Hz (scenario time) to every client; poll
profiles answer each client's requests with the frame for the state at that moment. Tags go
to the RFID port as the scenario presents them. ``Simulator`` runs in-process (tests) or
under ``python -m edge_agent.simulate``.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlparse

from edge_agent.simulate.encoders import FORMATS, SIM_OPTIONS
from edge_agent.simulate.faults import Corrupter
from edge_agent.simulate.responders import RESPONDERS
from edge_agent.simulate.rfid import TAG_ENCODERS, tag_frame
from edge_agent.simulate.scenarios import SCENARIOS, ScaleState, Scenario, play
from firmware_profiles import profile_class

Handler = Callable[[bytes], list[bytes]]
"""Per connection: the bytes a client sent -> the replies to send it."""

OPEN_SETTLE_S = 0.3
"""After the first client connects: pyserial drops what is pending when it opens the port."""


def _bind(url: str) -> socket.socket:
    u = urlparse(url)
    if u.scheme != "socket" or u.port is None:
        raise ValueError(f"expected socket://host:port (port 0: any free port), got {url!r}")
    sock = socket.create_server((u.hostname or "127.0.0.1", u.port))
    sock.settimeout(0.2)  # so that the accept loop notices close()
    return sock


class TcpServer:
    """A listener that keeps its clients. With ``handler`` each client's bytes are answered;
    without, they are read and dropped (a streaming indicator ignores its RX line)."""

    def __init__(self, url: str, *, handler: Callable[[], Handler] | None = None) -> None:
        self.sock = _bind(url)
        self.host, self.port = self.sock.getsockname()[:2]
        self.handler = handler
        self.clients: list[socket.socket] = []
        self.connected = threading.Event()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name=f"sim-accept-{self.port}", daemon=True).start()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(2.0)  # a client that stops reading is dropped, not waited for
            with self._lock:
                self.clients.append(conn)
            self.connected.set()
            handle = self.handler() if self.handler else None
            threading.Thread(target=self._serve, args=(conn, handle), daemon=True).start()

    def _serve(self, conn: socket.socket, handle: Handler | None) -> None:
        while not self._closed.is_set():
            try:
                data = conn.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if handle is not None:
                for reply in handle(data):
                    if reply and not self._send(conn, reply):
                        return
        self._forget(conn)

    def _send(self, conn: socket.socket, data: bytes) -> bool:
        try:
            conn.sendall(data)
        except OSError:
            self._forget(conn)
            return False
        return True

    def _forget(self, conn: socket.socket) -> None:
        with self._lock:
            if conn in self.clients:
                self.clients.remove(conn)
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def broadcast(self, data: bytes) -> None:
        with self._lock:
            clients = list(self.clients)
        for c in clients:
            self._send(c, data)

    def close(self) -> None:
        self._closed.set()
        self.sock.close()
        with self._lock:
            clients = list(self.clients)
        for c in clients:
            self._forget(c)


@dataclass(frozen=True)
class SimConfig:
    profile: str
    listen: str
    scenario: str = "truck-in-out"
    rfid_listen: str | None = None
    rfid_profile: str | None = None
    """None: the scenario's own (EM4100 cards for trucks, FDX-B tags for bins)."""
    rate: float = 10.0
    speed: float = 1.0
    corrupt_rate: float = 0.01
    cycles: int = 0
    """0: forever."""
    seed: int | None = None
    wait: bool = True
    """Start the scenario when the clients are connected, not at once (``--no-wait``)."""


class Simulator:
    def __init__(self, cfg: SimConfig, *, scenario: Scenario | None = None) -> None:
        if cfg.profile not in FORMATS:
            raise ValueError(f"no simulated indicator for profile {cfg.profile!r}")
        if cfg.rate <= 0 or cfg.speed <= 0 or not 0 <= cfg.corrupt_rate <= 1 or cfg.cycles < 0:
            raise ValueError("rate and speed must be > 0, corrupt rate 0..1, cycles >= 0")
        self.cfg = cfg
        self.format = FORMATS[cfg.profile]
        self.scenario = scenario or SCENARIOS[cfg.scenario](cfg.seed)
        self.rfid_profile = cfg.rfid_profile or self.scenario.rfid_profile
        if self.rfid_profile not in TAG_ENCODERS:
            raise ValueError(f"no simulated tag reader for profile {self.rfid_profile!r}")
        self.poll = cfg.profile in RESPONDERS
        self.encode = self.format.encoder()
        self.corrupter = Corrupter(self.format)
        # Separate streams: the scenario's weights do not depend on when a client polls.
        self._scene_rng = random.Random(cfg.seed)
        self._line_rng = random.Random(None if cfg.seed is None else f"line:{cfg.seed}")
        self._line_lock = threading.Lock()

        self.state = ScaleState(0, False)
        self.shown: set[int] = {0}
        """Every weight the display has shown so far."""
        self.frames_sent = 0
        self.frames_corrupted = 0
        self.tags_sent: list[str] = []
        self._stop = threading.Event()
        self.finished = threading.Event()

        handler = self._new_handler if self.poll else None
        self.scale = TcpServer(cfg.listen, handler=handler)
        self.rfid = TcpServer(cfg.rfid_listen) if cfg.rfid_listen else None

    # -- what to tell the user ----------------------------------------------------------

    def describe(self) -> list[str]:
        cls = profile_class(self.cfg.profile)
        how = f"poll, answers {cls.poll_request!r}" if self.poll else f"{self.cfg.rate:g} Hz"
        lines = [
            f"simulating {self.cfg.profile}: {self.format.variant} ({how}); "
            f"scenario {self.scenario.name}; on {self.scale.url}",
            f'  agent port: profile = "{self.cfg.profile}", '
            f"options = {toml_inline(SIM_OPTIONS[self.cfg.profile])}",
        ]
        if self.rfid:
            lines.append(f"  tags: {self.rfid_profile} on {self.rfid.url}")
        return lines

    # -- the scenario ---------------------------------------------------------------------

    def run(self) -> None:
        """Play the scenario ``cycles`` times (or until ``stop``); the ports stay open."""
        try:
            if self.cfg.wait and not self._wait_for_clients():
                return
            self._play()
        finally:
            self.finished.set()

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self.scale.close()
        if self.rfid:
            self.rfid.close()

    def _wait_for_clients(self) -> bool:
        while not self._stop.is_set():
            if self.scale.connected.is_set() and (
                self.rfid is None or self.rfid.connected.is_set()
            ):
                return not self._stop.wait(OPEN_SETTLE_S)
            self._stop.wait(0.05)
        return False

    def _play(self) -> None:
        cfg = self.cfg
        step = 1.0 / cfg.rate
        start = time.monotonic()
        elapsed = 0.0
        cycle = 0
        while not self._stop.is_set() and (cfg.cycles == 0 or cycle < cfg.cycles):
            last_t = 0.0
            for t, state, tag in play(self.scenario, rate_hz=cfg.rate, rng=self._scene_rng):
                delay = start + (elapsed + t) / cfg.speed - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                if tag is not None and self.rfid is not None:
                    self.rfid.broadcast(tag_frame(self.rfid_profile, tag))
                    self.tags_sent.append(tag.id_for(self.rfid_profile))
                self.shown.add(state.weight)
                self.state = state
                if not self.poll:
                    self.scale.broadcast(self._on_line(self.encode(state)))
                last_t = t
            elapsed += last_t + step
            cycle += 1

    # -- the line -----------------------------------------------------------------------

    def _on_line(self, frame: bytes) -> bytes:
        """A frame as it arrives: now and then damaged (``--corrupt-rate``)."""
        with self._line_lock:
            self.frames_sent += 1
            if self.cfg.corrupt_rate and self._line_rng.random() < self.cfg.corrupt_rate:
                self.frames_corrupted += 1
                return self.corrupter.corrupt(frame, self._line_rng)
        return frame

    def _new_handler(self) -> Handler:
        responder = RESPONDERS[self.cfg.profile](self.encode)

        def handle(data: bytes) -> list[bytes]:
            return [self._on_line(r) for r in responder.feed(data, self.state)]

        return handle


def toml_inline(options: dict[str, object]) -> str:
    """``{ format = "binary", unit = "kg" }``: paste into the agent's ``[[ports]]`` table."""
    if not options:
        return "{}"

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return str(v)
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{ " + ", ".join(f"{k} = {value(v)}" for k, v in options.items()) + " }"
