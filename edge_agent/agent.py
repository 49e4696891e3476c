"""Wires ports, workflows, the outbox and the uplink together.

Reader threads only put events on a queue; one loop applies them in order (workflows, the
measurement batcher, heartbeats), so the workflow logic is single-threaded and testable with
a fake clock."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog

from edge_agent import __version__
from edge_agent.clock import Clock, SystemClock
from edge_agent.config import AgentConfig, PortConfig
from edge_agent.measurements import MeasurementBatcher
from edge_agent.outbox import Outbox
from edge_agent.ports import PortReader
from edge_agent.stability import StabilityDetector
from edge_agent.uplink import Uplink
from edge_agent.workflows.weighbridge import WeighbridgeWorkflow
from firmware_profiles import Reading, get_profile
from protocols import Heartbeat, PortStatus

log = structlog.get_logger("edge_agent")


@dataclass(frozen=True)
class ReadingEvent:
    port: str
    reading: Reading
    at: datetime


@dataclass(frozen=True)
class PortLost:
    port: str
    why: str


@dataclass(frozen=True)
class PlateEntered:
    plate: str


class Agent:
    def __init__(
        self, cfg: AgentConfig, *, clock: Clock | None = None, start_uplink: bool = True
    ) -> None:
        self.cfg = cfg
        self.clock = clock or SystemClock()
        self.started = self.clock.monotonic()
        self.outbox = Outbox(
            cfg.outbox.path,
            budget_bytes=int(cfg.outbox.budget_mb * 2**20),
            alarm_ratio=cfg.outbox.alarm_ratio,
        )
        self.events: queue.Queue[object] = queue.Queue()
        self.ports = {p.name: p for p in cfg.ports}
        self.stability = {
            p.name: StabilityDetector(
                use_flag=get_profile(p.profile, **p.options).has_stability_flag,
                count=p.stable_count,
                window_s=p.stable_window_s,
            )
            for p in cfg.ports
            if p.role in ("weighbridge", "onboard")
        }
        self.readers: list[PortReader] = []
        self.weighbridge = (
            WeighbridgeWorkflow(
                cfg.weighbridge, outbox=self.outbox, device_id=cfg.device_id, clock=self.clock
            )
            if any(p.role == "weighbridge" for p in cfg.ports)
            else None
        )
        self.batcher = MeasurementBatcher(
            cfg.measurements, outbox=self.outbox, device_id=cfg.device_id, clock=self.clock
        )
        self.uplink = Uplink(cfg, self.outbox, clock=self.clock) if start_uplink else None
        self._stop = threading.Event()
        self._next_heartbeat = self.clock.monotonic() + min(5.0, cfg.heartbeat_s)

    # -- events --------------------------------------------------------------------------

    def handle(self, event: object) -> None:
        appended_before = self.outbox.last_seq()
        if isinstance(event, ReadingEvent):
            self._reading(self.ports[event.port], event.reading, event.at)
        elif isinstance(event, PortLost):
            port = self.ports[event.port]
            if port.role == "weighbridge" and self.weighbridge:
                self.weighbridge.on_port_lost()
            if event.port in self.stability:
                self.stability[event.port].reset()
        elif isinstance(event, PlateEntered) and self.weighbridge:
            self.weighbridge.on_plate(event.plate)
        if self.uplink and self.outbox.last_seq() != appended_before:
            self.uplink.wake()

    def _reading(self, port: PortConfig, reading: Reading, at: datetime) -> None:
        self.batcher.add(port.name, reading, at)
        if reading.kind == "weight" and port.role == "weighbridge" and self.weighbridge:
            stable = self.stability[port.name].update(reading, self.clock.monotonic())
            self.weighbridge.on_weight(reading, stable=stable, at=at)
        elif reading.kind == "tag" and port.role == "rfid" and reading.tag_id and self.weighbridge:
            self.weighbridge.on_tag(reading.tag_id)

    def tick(self) -> None:
        """Timers: the measurement batch and the heartbeat."""
        before = self.outbox.last_seq()
        self.batcher.flush_if_due()
        if self.uplink and self.outbox.last_seq() != before:
            self.uplink.wake()
        if self.clock.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = self.clock.monotonic() + self.cfg.heartbeat_s
            if self.uplink:
                self.uplink.publish_presence(self.heartbeat())

    def heartbeat(self) -> Heartbeat:
        st = self.outbox.stats()
        ports = []
        for r in self.readers:
            s = r.state
            ports.append(
                PortStatus(
                    name=s.name,
                    role=s.role,
                    profile=s.profile,
                    connected=s.connected,  # type: ignore[arg-type]
                    last_reading_at=s.last_reading_at,
                    frames_ok=s.frames_ok,
                    frames_bad=s.frames_bad,
                    last_error=s.last_error,
                )
            )
        return Heartbeat(
            message_id=uuid.uuid4(),
            device_id=self.cfg.device_id,
            seq=st.last_seq,
            occurred_at=self.clock.now(),
            software_version=__version__,
            uptime_s=int(self.clock.monotonic() - self.started),
            ports=ports,
            outbox_backlog=st.backlog,
            outbox_bytes=st.bytes,
            outbox_budget_bytes=st.budget_bytes,
            outbox_alarm=st.alarm,
            thinned_measurements=st.thinned,
        )

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        for p in self.cfg.ports:
            reader = PortReader(
                p,
                on_reading=lambda name, r, at: self.events.put(ReadingEvent(name, r, at)),
                on_lost=lambda name, why: self.events.put(PortLost(name, why)),
                clock=self.clock,
            )
            self.readers.append(reader)
            reader.start()
        if self.uplink:
            self.uplink.start()
        log.info(
            "edge_agent.started",
            device_id=self.cfg.device_id,
            ports=len(self.readers),
            backlog=self.outbox.stats().backlog,
            last_seq=self.outbox.last_seq(),
        )

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        self.start()
        try:
            while not self._stop.is_set():
                try:
                    event = self.events.get(timeout=0.1)
                except queue.Empty:
                    event = None
                try:
                    if event is not None:
                        self.handle(event)
                    self.tick()
                except Exception:
                    log.exception("edge_agent.event_failed", event_type=type(event).__name__)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        for r in self.readers:
            r.stop()
        while not self.events.empty():
            self.handle(self.events.get_nowait())
        self.batcher.flush()
        if self.uplink:
            deadline = time.monotonic() + 2
            while (
                self.uplink.connected
                and self.outbox.stats().backlog
                and time.monotonic() < deadline
            ):
                self.uplink.wake()
                time.sleep(0.05)
            self.uplink.stop()
        self.outbox.close()
        log.info("edge_agent.stopped")
