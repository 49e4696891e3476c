"""Scale state -> the bytes an indicator sends, for every weight profile, built with the profile
modules' own encode helpers.

Each profile gets one realistic default variant (``WeightFormat.variant``). Where the agent
needs options to decode that variant (no unit in the frame, a pinned format), they are in
``SIM_OPTIONS[name]``: configure the agent's port with exactly those and it reads the
simulator. For poll profiles the encoder builds the reply to the profile's ``poll_request``.

Profiles without a motion flag (weightronix, xk3190-*, ob350, right-weigh, rinstrum-net) just
send the weight; toledo-8217 sends its motion status instead of a weight, as the scale does.
Right Weigh gauges only speak pounds: the scenario's numbers are sent as pounds, unconverted.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from edge_agent.simulate.scenarios import ScaleState
from firmware_profiles import (
    and_ad,
    bilanciai,
    cardinal,
    cas,
    dini_argeo,
    mt_sics,
    nci,
    ob350,
    rice_lake,
    right_weigh,
    rinstrum_auto,
    rinstrum_net,
    sma,
    toledo_8217,
    toledo_continuous,
    weightronix,
    xk3190_a9,
    xk3190_a12e,
)

Encoder = Callable[[ScaleState], bytes]


@dataclass(frozen=True)
class WeightFormat:
    profile: str
    variant: str
    """What the simulated indicator is set to send."""
    options: Mapping[str, Any]
    """Agent-side profile options that decode it."""
    capacity: int
    """The largest weight the variant can show."""
    checksum: bool
    """Frames carry a checksum that catches a flipped bit (see ``faults``)."""
    unit: str
    """The unit the agent's readings carry."""
    build: Callable[[], Encoder]
    """A fresh encoder (some keep a frame counter)."""

    def encoder(self) -> Encoder:
        encode = self.build()

        def checked(state: ScaleState) -> bytes:
            if not 0 <= state.weight <= self.capacity:
                raise ValueError(
                    f"{self.profile} ({self.variant}) shows 0..{self.capacity}, not {state.weight}"
                )
            return encode(state)

        return checked


def _stateless(fn: Encoder) -> Callable[[], Encoder]:
    return lambda: fn


def _mt_sics(s: ScaleState) -> bytes:
    return mt_sics.encode_weight(str(s.weight), "kg", stable=not s.motion)


def _toledo_continuous(s: ScaleState) -> bytes:
    return toledo_continuous.encode_frame(s.weight, tare=0, increment=2, motion=s.motion)


def _toledo_8217(s: ScaleState) -> bytes:
    if s.motion:  # the scale answers W with its status instead of a weight while moving
        return toledo_8217.encode_status("motion")
    return toledo_8217.encode_weight(f"{s.weight:02d}.000")  # WW.WWW: 3 decimals = kg


def _sma(s: ScaleState) -> bytes:
    at_zero = s.weight == 0 and not s.motion
    return sma.encode_frame(str(s.weight), "kg", motion=s.motion, status="Z" if at_zero else " ")


def nci_status(s: ScaleState) -> str:
    """Two status bytes: motion / at zero in byte 1, nothing in byte 2."""
    first = 0x30 | (0x01 if s.motion else 0) | (0x02 if s.weight == 0 else 0)
    return chr(first) + "0"


def _nci(s: ScaleState) -> bytes:
    return nci.encode_weight(f"{s.weight:07d}", "KG", status=nci_status(s))


def _rinstrum_auto(s: ScaleState) -> bytes:
    return rinstrum_auto.encode_frame(str(s.weight), fmt="C", status="G", motion=s.motion)


def rinstrum_literal(weight: int, gross_net: str = "G") -> str:
    """The formatted literal of a weight register, as in ``9F050026:  15.71 t G``; without
    ``gross_net`` for the tare register."""
    return f"{weight:>7} kg" + (f" {gross_net}" if gross_net else "")


def _rinstrum_net(s: ScaleState) -> bytes:
    return rinstrum_net.encode_reply(rinstrum_literal(s.weight))


def _rice_lake(s: ScaleState) -> bytes:
    status = "M" if s.motion else ("Z" if s.weight == 0 else " ")
    return rice_lake.encode_frame(str(s.weight), unit="K", status=status)


def _cardinal(s: ScaleState) -> bytes:
    return cardinal.encode_stream(f"{s.weight:06d}", unit="kg", motion=s.motion)


def _weightronix(s: ScaleState) -> bytes:
    return weightronix.encode_frame(f"{s.weight:06d}", unit="kg")


def _dini_argeo(s: ScaleState) -> bytes:
    return dini_argeo.encode_frame(str(s.weight), unit="kg", state="US" if s.motion else "ST")


def _bilanciai(s: ScaleState) -> bytes:
    return bilanciai.encode_cb(s.weight, stable=not s.motion)


def _cas(s: ScaleState) -> bytes:
    return cas.encode_frame(f"{s.weight:08d}", unit="kg", state="US" if s.motion else "ST")


def _and_ad(s: ScaleState) -> bytes:
    # the indicator form (AD-4400 series), as at a weighbridge: a second header, GS
    return and_ad.encode_frame(f"+{s.weight:08d}", unit="kg", stable=not s.motion, header2="GS")


def _xk3190_a9(s: ScaleState) -> bytes:
    return xk3190_a9.encode_tf0(s.weight, 0)


def _xk3190_a12e(s: ScaleState) -> bytes:
    return xk3190_a12e.encode_frame(f"{s.weight:07d}")


def _ob350() -> Encoder:
    counter = itertools.count()
    return lambda s: ob350.encode_format4(s.weight, counter=next(counter))


def _right_weigh(s: ScaleState) -> bytes:
    return (
        right_weigh.encode_marker(start=True)
        + right_weigh.encode_axle("Drive", s.weight)
        + right_weigh.encode_marker(start=False)
    )


def _format(
    profile: str,
    variant: str,
    build: Callable[[], Encoder],
    *,
    capacity: int,
    checksum: bool = False,
    unit: str = "kg",
    options: Mapping[str, Any] | None = None,
) -> WeightFormat:
    return WeightFormat(
        profile=profile,
        variant=variant,
        options=MappingProxyType(dict(options or {})),
        capacity=capacity,
        checksum=checksum,
        unit=unit,
        build=build,
    )


FORMATS: dict[str, WeightFormat] = {
    f.profile: f
    for f in (
        _format("mt-sics", "SI reply 'S S|D <value> kg'", _stateless(_mt_sics), capacity=10**9),
        _format(
            "toledo-continuous",
            "17 bytes with tare and checksum, increment 2",
            _stateless(_toledo_continuous),
            capacity=999_999,
            checksum=True,
            options={"checksum": "required"},
        ),
        _format(
            "toledo-8217",
            "W reply WW.WWW kg, '?' status while in motion",
            _stateless(_toledo_8217),
            capacity=999_999,
        ),
        _format("sma", "W reply, gross, kg", _stateless(_sma), capacity=10**9),
        _format("nci", "W reply, KG, 2 status bytes", _stateless(_nci), capacity=9_999_999),
        _format(
            "rinstrum-auto",
            "format C (units, motion flag)",
            _stateless(_rinstrum_auto),
            capacity=9_999_999,
            options={"format": "C", "unit": "kg"},  # units are blank while in motion
        ),
        _format(
            "rinstrum-net",
            "read-literal reply '<weight> kg G', address 31",
            _stateless(_rinstrum_net),
            capacity=9_999_999,
        ),
        _format("rice-lake", "RLWS, kg (K), gross", _stateless(_rice_lake), capacity=9_999_999),
        _format(
            "cardinal",
            "stream, 6 digits, kg",
            _stateless(_cardinal),
            capacity=999_999,
            options={"format": "stream"},
        ),
        _format("weightronix", "6 digits, kg", _stateless(_weightronix), capacity=999_999),
        _format("dini-argeo", "STANDARD string, kg", _stateless(_dini_argeo), capacity=9_999_999),
        _format(
            "bilanciai",
            "Cb string, 5 digits, no decimals",
            _stateless(_bilanciai),
            capacity=99_999,
            options={"unit": "kg", "decimals": 0},
        ),
        _format("cas", "22-byte frame with lamp byte, kg", _stateless(_cas), capacity=99_999_999),
        _format("and-ad", "ST/US,GS, 8 digits, kg", _stateless(_and_ad), capacity=99_999_999),
        _format(
            "xk3190-a9",
            "tF=0 12-byte frame, no decimals",
            _stateless(_xk3190_a9),
            capacity=999_999,
            checksum=True,
            options={"unit": "kg"},
        ),
        _format(
            "xk3190-a12e",
            "'WG<7 chars>kg' with XOR checksum",
            _stateless(_xk3190_a12e),
            capacity=9_999_999,
            checksum=True,
        ),
        _format(
            "ob350",
            "format 4 (binary, sum checksum)",
            _ob350,
            capacity=(1 << 24) - 1,
            checksum=True,
            options={"format": "binary", "unit": "kg"},
        ),
        _format(
            "right-weigh",
            "$OAWTS, one '$RWAWT,Drive,<lb>' axle, $OAWTE",
            _stateless(_right_weigh),
            capacity=999_999,
            checksum=True,
            unit="lb",
        ),
    )
}

SIM_OPTIONS: dict[str, dict[str, Any]] = {name: dict(f.options) for name, f in FORMATS.items()}
"""Per profile, the agent port ``options`` that decode what the simulator sends."""


def encoder(profile: str) -> Encoder:
    """A fresh encoder for ``profile``'s default variant."""
    return FORMATS[profile].encoder()
