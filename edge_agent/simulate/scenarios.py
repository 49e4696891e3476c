"""Scale scenarios as timelines: what the indicator shows at each moment, and the events (an
RFID card or bin tag presented) that happen along the way.

Weights are whole display units (kg; pounds for the pound-only Right Weigh gauges, see
``encoders``). Every scenario is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Tag:
    """An RFID tag or card. Kept as ISO 11784 numbers (country or manufacturer code, national
    id); ``rfid.tag_id`` says how each reader profile shows it."""

    country: int
    """0..999."""
    national: int
    """0..2**32-1, so that an EM4100 reader (32-bit id) can carry it too."""

    def __post_init__(self) -> None:
        if not 0 <= self.country <= 999 or not 0 <= self.national < 1 << 32:
            raise ValueError(f"tag {self.country}/{self.national} out of range")

    @classmethod
    def from_em4100(cls, card: str) -> Tag:
        """An EM4100 card as printed on it: version byte + 32-bit id, 10 hex digits."""
        raw = bytes.fromhex(card)
        if len(raw) != 5:
            raise ValueError(f"an EM4100 id is 10 hex digits, got {card!r}")
        return cls(country=raw[0], national=int.from_bytes(raw[1:], "big"))

    def id_for(self, rfid_profile: str) -> str:
        """The ``tag_id`` the agent reads from a reader of that profile.

        ISO readers (``rfid-fdxb``, ``rfid-allflex``): 3 country + 12 national digits.
        EM4100 (``rfid-em4100``): version byte + 32-bit id in hex; an ISO tag shown on an
        EM4100 reader has its country code reduced mod 256 into the version byte (the
        simulator's choice, so either reader can serve any scenario)."""
        if rfid_profile == "rfid-em4100":
            return f"{self.country & 0xFF:02X}{self.national:08X}"
        if rfid_profile in ("rfid-fdxb", "rfid-allflex"):
            return f"{self.country:03d}{self.national:012d}"
        raise ValueError(f"no tag form for profile {rfid_profile!r}")


@dataclass(frozen=True)
class ScaleState:
    weight: int
    """What the display shows, in whole display units."""
    motion: bool


@dataclass(frozen=True)
class Segment:
    duration: float
    start: int
    end: int
    motion: bool
    tag: Tag | None = None
    """A card or tag presented at the start of this segment."""


@dataclass(frozen=True)
class Truck:
    card: Tag
    gross_kg: int
    tare_kg: int


@dataclass(frozen=True)
class Lift:
    tag: Tag
    net_kg: int


@dataclass(frozen=True)
class Scenario:
    name: str
    segments: tuple[Segment, ...]
    division: int
    """Display division: motion noise moves in these steps, weights are rounded to them."""
    rfid_profile: str
    """The reader profile that presents this scenario's tags unless ``--rfid-profile`` says."""
    lifts: tuple[Lift, ...] = ()

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.segments)

    def stable_weights(self) -> list[int]:
        """The weights shown without motion, in order, each once (0 included)."""
        out: list[int] = []
        for s in self.segments:
            if not s.motion and s.start == s.end and s.start not in out:
                out.append(s.start)
        return out


DEMO_TRUCKS = (
    Truck(card=Tag.from_em4100("000414CD7E"), gross_kg=32460, tare_kg=14220),
    Truck(card=Tag.from_em4100("00A1B2C3D4"), gross_kg=18740, tare_kg=9860),
)


def truck_in_out(seed: int | None = None, *, trucks: tuple[Truck, ...] = DEMO_TRUCKS) -> Scenario:
    """Each truck drives on (card read), is weighed full, leaves, unloads, comes back empty
    (card read again) and is weighed empty. ``seed`` is not used: the weights are fixed."""
    segs: list[Segment] = []
    for t in trucks:
        segs += [
            Segment(2.0, 0, 0, False),
            Segment(1.5, 0, t.gross_kg, True, tag=t.card),  # drives on
            Segment(0.6, t.gross_kg, t.gross_kg, True),  # settling
            Segment(2.5, t.gross_kg, t.gross_kg, False),  # stable: first weighing
            Segment(1.0, t.gross_kg, 0, True),  # drives off
            Segment(3.0, 0, 0, False),  # unloads in the yard
            Segment(1.5, 0, t.tare_kg, True, tag=t.card),  # back on, empty
            Segment(0.6, t.tare_kg, t.tare_kg, True),
            Segment(2.5, t.tare_kg, t.tare_kg, False),  # stable: second weighing
            Segment(1.0, t.tare_kg, 0, True),
        ]
    segs.append(Segment(2.0, 0, 0, False))
    return Scenario("truck-in-out", tuple(segs), division=20, rfid_profile="rfid-em4100")


def noise(seed: int | None = None) -> Scenario:
    """An empty scale: five seconds of motion around zero, then five quiet ones."""
    segs = (Segment(5.0, 0, 0, True), Segment(5.0, 0, 0, False))
    return Scenario("noise", segs, division=20, rfid_profile="rfid-em4100")


BIN_COUNTRY = 999
"""ISO 11784 code 999: test tags. Real bins carry a manufacturer code (900-998)."""
BIN_LIFTS = 5


def lifts_for(seed: int | None, count: int = BIN_LIFTS) -> tuple[Lift, ...]:
    """The bins of ``bin_lifts``: a tag each (22-bit container numbers, as in the German BDE
    layout) and a net weight of 20-180 kg, drawn from ``seed``."""
    rng = random.Random(seed)
    return tuple(
        Lift(Tag(BIN_COUNTRY, rng.randrange(1, 1 << 22)), rng.randint(20, 180))
        for _ in range(count)
    )


def expected_lifts(seed: int, rfid_profile: str = "rfid-fdxb") -> list[tuple[str, int]]:
    """(tag id as the agent reads it, net kg) for each lift of ``bin_lifts(seed)``, in order."""
    return [(lift.tag.id_for(rfid_profile), lift.net_kg) for lift in lifts_for(seed)]


def bin_lifts(seed: int | None = None) -> Scenario:
    """A refuse truck's on-board bin-lift scale: for each bin, the tag is read as the lifter
    takes the bin, the weight swings while it rises, holds the net weight of the contents for
    two seconds, and falls back to zero as the bin is emptied and set down."""
    lifts = lifts_for(seed)
    segs: list[Segment] = []
    for lift in lifts:
        segs += [
            Segment(1.5, 0, 0, False),  # driving to the bin, arm at rest
            Segment(2.0, 0, lift.net_kg, True, tag=lift.tag),  # lifting
            Segment(2.0, lift.net_kg, lift.net_kg, False),  # stable: the bin's net weight
            Segment(1.0, lift.net_kg, 0, True),  # tipping and setting down
        ]
    segs.append(Segment(1.5, 0, 0, False))
    return Scenario("bin-lifts", tuple(segs), division=1, rfid_profile="rfid-fdxb", lifts=lifts)


SCENARIOS: dict[str, Callable[[int | None], Scenario]] = {
    "truck-in-out": truck_in_out,
    "noise": noise,
    "bin-lifts": bin_lifts,
}


def play(
    scenario: Scenario, *, rate_hz: float, rng: random.Random
) -> Iterator[tuple[float, ScaleState, Tag | None]]:
    """(scenario time, state, tag presented now) at ``rate_hz``, through the segments once.
    Motion adds up to three divisions of noise either way; the display never goes below 0."""
    t0 = 0.0
    step = 1.0 / rate_hz
    division = scenario.division
    for seg in scenario.segments:
        n = max(1, round(seg.duration * rate_hz))
        for i in range(n):
            value = seg.start + (seg.end - seg.start) * i / n
            if seg.motion:
                value += rng.randint(-3, 3) * division
            w = max(0, round(value / division) * division)
            yield t0 + i * step, ScaleState(w, seg.motion), seg.tag if i == 0 else None
        t0 += n * step
