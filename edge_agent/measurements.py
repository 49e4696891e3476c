"""Readings batched into one ``Measurement`` message per interval (10 Hz -> one message a
second), rate-limited per port but never skipping a change of condition or stability."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import structlog

from edge_agent.clock import Clock
from edge_agent.config import MeasurementsConfig
from edge_agent.outbox import Outbox, OutboxFull
from firmware_profiles import Reading
from protocols import Measurement, PositionReading, TagReading, WeightReading

log = structlog.get_logger("edge_agent.measurements")
DEG = Decimal("0.0000001")
CENT = Decimal("0.01")


def to_contract(channel: str, r: Reading, at: datetime) -> Any | None:
    if r.kind == "weight":
        if r.condition == "ok" and r.unit is None:
            return None  # a number without a unit is not a weight we can report
        return WeightReading(
            at=at,
            channel=channel,
            value=r.weight,
            unit=r.unit,
            stable=r.stable,
            mode=r.mode,
            tare=r.tare,
            condition=r.condition,
        )
    if r.kind == "position" and r.lat is not None and r.lon is not None:
        # Positions (not weights) are rounded: 7 decimals of a degree is about 1 cm.
        return PositionReading(
            at=r.time or at,
            channel=channel,
            lat=r.lat.quantize(DEG, ROUND_HALF_UP),
            lon=r.lon.quantize(DEG, ROUND_HALF_UP),
            speed_kmh=r.speed_kmh.quantize(CENT, ROUND_HALF_UP)
            if r.speed_kmh is not None
            else None,
            course=r.course.quantize(CENT, ROUND_HALF_UP) % 360 if r.course is not None else None,
            satellites=r.satellites,
        )
    if r.kind == "tag" and r.tag_id:
        return TagReading(at=at, channel=channel, tag_id=r.tag_id)
    return None


class MeasurementBatcher:
    def __init__(
        self, cfg: MeasurementsConfig, *, outbox: Outbox, device_id: str, clock: Clock
    ) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.device_id = device_id
        self.clock = clock
        self._buffer: list[Any] = []
        self._last_kept: dict[str, tuple[float, Any]] = {}
        self._next_flush = clock.monotonic() + cfg.interval_s
        self.dropped_rate = 0
        self.refused = 0

    def add(self, channel: str, reading: Reading, at: datetime) -> None:
        item = to_contract(channel, reading, at)
        if item is None:
            return
        now = self.clock.monotonic()
        signature = (reading.kind, reading.condition, reading.stable, reading.mode)
        last = self._last_kept.get(channel)
        if (
            last
            and now - last[0] < 1.0 / self.cfg.max_rate_hz
            and last[1] == signature
            and reading.kind != "tag"
        ):
            self.dropped_rate += 1
            return
        self._last_kept[channel] = (now, signature)
        self._buffer.append(item)
        if len(self._buffer) >= 1000:
            self.flush()

    def flush_if_due(self) -> None:
        if self.clock.monotonic() >= self._next_flush:
            self.flush()

    def flush(self) -> None:
        self._next_flush = self.clock.monotonic() + self.cfg.interval_s
        if not self._buffer:
            return
        readings, self._buffer = self._buffer, []
        try:
            self.outbox.append(
                lambda seq, mid: Measurement(
                    message_id=mid,
                    device_id=self.device_id,
                    seq=seq,
                    occurred_at=self.clock.now(),
                    readings=readings,
                )
            )
        except OutboxFull:
            self.refused += len(readings)
            log.warning("edge_agent.measurements_refused", readings=len(readings))
