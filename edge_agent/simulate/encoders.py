"""Scale state -> frame bytes, per firmware profile."""

from __future__ import annotations

import random
from collections.abc import Callable

from edge_agent.simulate.scenarios import ScaleState
from firmware_profiles.toledo_continuous import encode_frame as toledo_frame


def _toledo(state: ScaleState) -> bytes:
    return toledo_frame(state.weight, tare=0, increment=2, motion=state.motion)


ENCODERS: dict[str, Callable[[ScaleState], bytes]] = {
    "toledo-continuous": _toledo,
}


def corrupt(frame: bytes, rng: random.Random) -> bytes:
    """Flip one bit in one byte after the first: a line fault the checksum must catch."""
    if len(frame) < 3:
        return frame
    i = rng.randrange(1, len(frame) - 1)
    b = bytearray(frame)
    b[i] ^= 1 << rng.randrange(0, 7)
    return bytes(b)
