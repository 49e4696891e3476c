"""Line faults (``--corrupt-rate``) that the agent must catch, never turn into a weight.

* Profiles whose frames carry a checksum (``WeightFormat.checksum``): one bit (0-6, so 7-bit
  masking cannot hide it) flipped in one byte between the first and the last. The checksum
  catches it (``frames_bad``), or the framer does when the flip broke the frame's shape or,
  as in OB-350 format 4, the framer itself checks the sum (``bytes_discarded``).
* Profiles without a checksum: a flipped digit would just be another plausible weight, so the
  frame is broken instead, at random one of: a byte inside it replaced by NUL (no weight frame
  of these protocols parses with a NUL in it: ``parse`` raises, ``frames_bad``), or the frame
  cut short, its terminator lost (the framer drops the half frame: ``bytes_discarded``).

Every candidate is checked before it is sent: decoded with the profile itself, followed by the
intact frame, it must not yield a weight reading other than the intact frame's. A candidate
that fails is replaced (up to a few tries), and as a last resort the frame is not sent at all.
So the simulator never makes a profile report a weight or condition the scale did not show.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from edge_agent.simulate.encoders import WeightFormat
from firmware_profiles import FirmwareProfile, Reading, get_profile

TRIES = 8


def flip_bit(frame: bytes, rng: random.Random) -> bytes:
    b = bytearray(frame)
    i = rng.randrange(1, len(b) - 1)
    b[i] ^= 1 << rng.randrange(0, 7)
    return bytes(b)


def null_byte(frame: bytes, rng: random.Random) -> bytes:
    b = bytearray(frame)
    b[rng.randrange(1, len(b) - 1)] = 0
    return bytes(b)


def truncate(frame: bytes, rng: random.Random) -> bytes:
    return frame[: rng.randrange(1, len(frame) - 1)]


class Corrupter:
    def __init__(self, fmt: WeightFormat) -> None:
        self.fmt = fmt
        self._profile: FirmwareProfile = get_profile(fmt.profile, **fmt.options)
        self.strategies: tuple[Callable[[bytes, random.Random], bytes], ...] = (
            (flip_bit,) if fmt.checksum else (null_byte, truncate)
        )
        self.rejected = 0
        """Candidates the check turned down (they would have decoded as something else)."""
        self.dropped = 0
        """Frames not sent because no harmless candidate was found."""

    def corrupt(self, frame: bytes, rng: random.Random) -> bytes:
        if len(frame) < 3:
            self.dropped += 1
            return b""
        for _ in range(TRIES):
            candidate = rng.choice(self.strategies)(frame, rng)
            if self.harmless(frame, candidate):
                return candidate
            self.rejected += 1
        self.dropped += 1
        return b""

    def harmless(self, frame: bytes, candidate: bytes) -> bool:
        def weights(data: bytes) -> list[tuple[object, ...]]:
            return [
                (r.weight, r.unit, r.condition, r.stable)
                for r in self._profile.decode(data)
                if isinstance(r, Reading) and r.kind == "weight"
            ]

        intact = set(weights(frame))
        return candidate != frame and all(w in intact for w in weights(candidate + frame))
