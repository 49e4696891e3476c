"""GPS sampling: a position is kept when the truck moved ``distance_m`` since the last kept one,
or ``interval_s`` passed; everything in between is dropped on the truck, not sent."""

from __future__ import annotations

import math
from decimal import Decimal

from edge_agent.config import GpsConfig
from firmware_profiles import Reading

EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: Decimal, lon1: Decimal, lat2: Decimal, lon2: Decimal) -> float:
    """Great-circle distance (haversine); floats are fine for a threshold."""
    p1, p2 = math.radians(float(lat1)), math.radians(float(lat2))
    dp, dl = p2 - p1, math.radians(float(lon2) - float(lon1))
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class PositionSampler:
    def __init__(self, cfg: GpsConfig) -> None:
        self.cfg = cfg
        self._last: tuple[float, Decimal, Decimal] | None = None
        self.kept = 0
        self.dropped = 0

    def keep(self, reading: Reading, now: float) -> bool:
        if reading.kind != "position" or reading.lat is None or reading.lon is None:
            return False
        last = self._last
        if (
            last is None
            or now - last[0] >= self.cfg.interval_s
            or distance_m(last[1], last[2], reading.lat, reading.lon) >= self.cfg.distance_m
        ):
            self._last = (now, reading.lat, reading.lon)
            self.kept += 1
            return True
        self.dropped += 1
        return False
