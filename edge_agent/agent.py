"""Wires ports, workflows, the outbox, the uplink, uploads and the local page together.

Reader threads, the MQTT thread and the local page only put events on a queue; one loop
applies them in order (workflows, the measurement batcher, heartbeats), so the workflow logic
is single-threaded and testable with a fake clock."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from edge_agent import __version__
from edge_agent.clock import Clock, SystemClock
from edge_agent.config import AgentConfig, PortConfig
from edge_agent.gps import PositionSampler
from edge_agent.measurements import MeasurementBatcher
from edge_agent.outbox import Outbox
from edge_agent.ports import PortReader
from edge_agent.stability import StabilityDetector
from edge_agent.uplink import Uplink
from edge_agent.uploads import FileStore, Uploader
from edge_agent.workflows.driver_orders import DriverOrders
from edge_agent.workflows.onboard import OnboardWorkflow
from edge_agent.workflows.weighbridge import WeighbridgeWorkflow
from firmware_profiles import Reading, get_profile
from protocols import DeviceConfig, Envelope, Heartbeat, JobDispatch, PortStatus

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
class Downlink:
    message: Envelope


@dataclass(frozen=True)
class Call:
    """Run ``fn`` on the agent loop and hand its result (or exception) to ``future``."""

    fn: Callable[[], Any]
    future: Future[Any]


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
        self.files = FileStore(self.outbox)
        self.weighbridge: WeighbridgeWorkflow | None = None
        self.onboard: OnboardWorkflow | None = None
        self.driver_orders: DriverOrders | None = None
        if any(p.role == "weighbridge" for p in cfg.ports):
            self.weighbridge = WeighbridgeWorkflow(
                cfg.weighbridge,
                outbox=self.outbox,
                device_id=cfg.device_id,
                clock=self.clock,
                files=self.files,
            )
        else:  # a truck (or a driver's phone): jobs come to it
            self.onboard = OnboardWorkflow(
                cfg.onboard,
                outbox=self.outbox,
                files=self.files,
                device_id=cfg.device_id,
                clock=self.clock,
            )
            self.driver_orders = DriverOrders(
                outbox=self.outbox, device_id=cfg.device_id, clock=self.clock
            )
        self.gps = PositionSampler(cfg.gps)
        self.batcher = MeasurementBatcher(
            cfg.measurements, outbox=self.outbox, device_id=cfg.device_id, clock=self.clock
        )
        self.uplink = (
            Uplink(
                cfg, self.outbox, clock=self.clock, on_down=lambda m: self.events.put(Downlink(m))
            )
            if start_uplink
            else None
        )
        password = cfg.mqtt.password.get_secret_value() if cfg.mqtt.password else None
        self.uploader = (
            Uploader(self.files, api_url=cfg.api_url, device_id=cfg.device_id, password=password)
            if cfg.api_url and start_uplink
            else None
        )
        self.terminal: Any = None
        self._stop = threading.Event()
        self._next_heartbeat = self.clock.monotonic() + min(5.0, cfg.heartbeat_s)

    # -- events --------------------------------------------------------------------------

    def handle(self, event: object) -> None:
        appended_before = self.outbox.last_seq()
        if isinstance(event, ReadingEvent):
            self._reading(self.ports[event.port], event.reading, event.at)
        elif isinstance(event, PortLost):
            role = self.ports[event.port].role
            if role == "weighbridge" and self.weighbridge:
                self.weighbridge.on_port_lost()
            elif role == "onboard" and self.onboard:
                self.onboard.on_port_lost()
            if event.port in self.stability:
                self.stability[event.port].reset()
        elif isinstance(event, Downlink):
            if isinstance(event.message, JobDispatch) and self.onboard:
                self.onboard.on_dispatch(event.message)
            elif isinstance(event.message, DeviceConfig) and self.weighbridge:
                self.weighbridge.on_config(event.message)
        elif isinstance(event, Call) and event.future.set_running_or_notify_cancel():
            try:
                event.future.set_result(event.fn())
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                event.future.set_exception(exc)
        if self.outbox.last_seq() != appended_before:
            self._wake_senders()

    def call(self, fn: Callable[[], Any], timeout: float = 30.0) -> Any:
        """From another thread (the local page): run ``fn`` on the agent loop, wait for it."""
        future: Future[Any] = Future()
        self.events.put(Call(fn, future))
        return future.result(timeout=timeout)

    def _wake_senders(self) -> None:
        if self.uplink:
            self.uplink.wake()
        if self.uploader:
            self.uploader.wake()

    def _reading(self, port: PortConfig, reading: Reading, at: datetime) -> None:
        if reading.kind == "position":
            if self.gps.keep(reading, self.clock.monotonic()):
                self.batcher.add(port.name, reading, at)
            return
        self.batcher.add(port.name, reading, at)
        if reading.kind == "weight" and port.name in self.stability:
            stable = self.stability[port.name].update(reading, self.clock.monotonic())
            if port.role == "weighbridge" and self.weighbridge:
                self.weighbridge.on_weight(reading, stable=stable, at=at)
            elif port.role == "onboard" and self.onboard:
                self.onboard.on_weight(reading, stable=stable, at=at)
        elif reading.kind == "status" and reading.stable is False and port.name in self.stability:
            # Motion reported in place of a weight (Toledo 8217 ``?A``): the weight before it
            # is stale; without this the workflow would keep it as stable.
            self.stability[port.name].reset()
            if port.role == "weighbridge" and self.weighbridge:
                self.weighbridge.on_motion()
            elif port.role == "onboard" and self.onboard:
                self.onboard.on_motion()
        elif reading.kind == "tag" and port.role == "rfid" and reading.tag_id:
            if self.weighbridge:
                self.weighbridge.on_tag(reading.tag_id)
            elif self.onboard:
                self.onboard.on_tag(reading.tag_id)

    def tick(self) -> None:
        """Timers: the measurement batch and the heartbeat."""
        before = self.outbox.last_seq()
        self.batcher.flush_if_due()
        if self.outbox.last_seq() != before:
            self._wake_senders()
        if self.clock.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = self.clock.monotonic() + self.cfg.heartbeat_s
            if self.uplink:
                self.uplink.publish_presence(self.heartbeat())

    def heartbeat(self) -> Heartbeat:
        st = self.outbox.stats()
        ports = [
            PortStatus(
                name=s.name,
                role=s.role,  # type: ignore[arg-type]
                profile=s.profile,
                connected=s.connected,
                last_reading_at=s.last_reading_at,
                frames_ok=s.frames_ok,
                frames_bad=s.frames_bad,
                last_error=s.last_error,
            )
            for s in (r.state for r in self.readers)
        ]
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
            thinned_measurements=st.thinned + self.batcher.refused,
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
        if self.uploader:
            self.uploader.start()
        if self.cfg.terminal_listen:
            from edge_agent.terminal import TerminalServer

            self.terminal = TerminalServer(self, self.cfg.terminal_listen)
            self.terminal.start()
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
        if self.terminal:
            self.terminal.stop()
        for r in self.readers:
            r.stop()
        while not self.events.empty():
            event = self.events.get_nowait()
            if not isinstance(event, Call):
                self.handle(event)
        self.batcher.flush()
        if self.uploader:
            self.uploader.stop()
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
