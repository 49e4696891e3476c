"""Scale scenarios as timelines: what the indicator shows at each moment, and the events
(a card presented) that happen along the way."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Truck:
    card: str
    gross_kg: int
    tare_kg: int


DEMO_TRUCKS = (
    Truck(card="000414CD7E", gross_kg=32460, tare_kg=14220),
    Truck(card="00A1B2C3D4", gross_kg=18740, tare_kg=9860),
)


@dataclass(frozen=True)
class Segment:
    duration: float
    start: int
    end: int
    motion: bool
    card: str | None = None
    """A card presented at the start of this segment."""


@dataclass(frozen=True)
class ScaleState:
    weight: int
    motion: bool


def truck_in_out(trucks: tuple[Truck, ...] = DEMO_TRUCKS) -> list[Segment]:
    segs: list[Segment] = []
    for t in trucks:
        segs += [
            Segment(2.0, 0, 0, False),
            Segment(1.5, 0, t.gross_kg, True, card=t.card),  # drives on
            Segment(0.6, t.gross_kg, t.gross_kg, True),  # settling
            Segment(2.5, t.gross_kg, t.gross_kg, False),  # stable: first weighing
            Segment(1.0, t.gross_kg, 0, True),  # drives off
            Segment(3.0, 0, 0, False),  # unloads in the yard
            Segment(1.5, 0, t.tare_kg, True, card=t.card),  # back on, empty
            Segment(0.6, t.tare_kg, t.tare_kg, True),
            Segment(2.5, t.tare_kg, t.tare_kg, False),  # stable: second weighing
            Segment(1.0, t.tare_kg, 0, True),
        ]
    segs.append(Segment(2.0, 0, 0, False))
    return segs


def noise() -> list[Segment]:
    return [Segment(5.0, 0, 0, True), Segment(5.0, 0, 0, False)]


SCENARIOS = {"truck-in-out": truck_in_out, "noise": noise}


def play(
    segments: list[Segment], *, rate_hz: float, division: int = 20, rng: random.Random
) -> Iterator[tuple[float, ScaleState, str | None]]:
    """(scenario time, state, card presented now) at ``rate_hz``, through the segments once."""
    t0 = 0.0
    step = 1.0 / rate_hz
    for seg in segments:
        n = max(1, round(seg.duration * rate_hz))
        for i in range(n):
            frac = i / n
            value = seg.start + (seg.end - seg.start) * frac
            if seg.motion:
                value += rng.randint(-3, 3) * division
            w = max(0, round(value / division) * division)
            yield t0 + i * step, ScaleState(w, seg.motion), seg.card if i == 0 else None
        t0 += n * step


def kg(value: int) -> Decimal:
    return Decimal(value)
