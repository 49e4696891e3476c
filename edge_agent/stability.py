"""When is a weight stable? The indicator's own motion flag where the protocol has one;
otherwise a window: N equal readings within T seconds (a truck rocking on its springs does
not pass, because its readings are not equal)."""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from firmware_profiles import Reading


class StabilityDetector:
    def __init__(self, *, use_flag: bool, count: int = 5, window_s: float = 2.0) -> None:
        self.use_flag = use_flag
        self.count = count
        self.window_s = window_s
        self._recent: deque[tuple[float, Decimal | None, str | None]] = deque(maxlen=count)

    def reset(self) -> None:
        self._recent.clear()

    def update(self, reading: Reading, at: float) -> bool:
        """Feed one weight reading (``at``: monotonic seconds); True if it counts as stable."""
        if reading.condition != "ok" or reading.weight is None:
            self._recent.clear()
            return False
        if self.use_flag:
            return reading.stable is True
        self._recent.append((at, reading.weight, reading.unit))
        if len(self._recent) < self.count:
            return False
        first_at, value, unit = self._recent[0]
        return at - first_at <= self.window_s and all(
            v == value and u == unit for _, v, u in self._recent
        )
