"""Avery Weigh-Tronix stream ("wtronix", WI-120 sample) as Rice Lake and Fairbanks describe it
(Rice Lake 680 §11.3.3 / 482-AG STR-3; Fairbanks 2800 "TRONIX"; serial-protocols.md §7)::

    SP  G/N  POL  wwwwww  SP  UNIT  CR [LF]

* first character a space (Fairbanks: ``0`` seen before ``N``; accepted);
* POL ``+``/``-``; six digits, leading zeros, floating decimal point (7 characters only when
  one of them is the point);
* two-character lower-case unit;
* Fairbanks: weight and legend are blank in under- or overload. The direction is not sent, so
  such a frame is condition ``error`` with ``out_of_range`` in ``extra``.

The stream has no motion flag: ``stable`` is None and the agent uses a window of readings.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)

FRAME = re.compile(
    rb"(?P<lead>[ 0])"  # leading space ('0' before N on Fairbanks)
    rb"(?P<gn>[GN])"  # gross / net
    rb"(?P<pol>[+\- ])"  # polarity
    rb"(?P<weight>[ 0-9.]{6,7})"  # six digits, floating decimal point; blank out of range
    rb" "
    rb"(?P<unit>[a-z ]{2})"  # unit, lower case; blank out of range
    rb"\r\n?"
)


class Weightronix(FirmwareProfile):
    name: ClassVar[str] = "weightronix"
    description: ClassVar[str] = "Avery Weigh-Tronix stream (Rice Lake/Fairbanks 'wtronix')"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("9600 7E1", "4800 8N1")
    )
    has_stability_flag = False
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\r", mask_parity=True, sync=FRAME, idle=b"\n", max_frame=20)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        m = FRAME.fullmatch(f)
        if m is None:
            raise FrameError(f"expected SP G/N POL wwwwww SP unit CR, got {frame!r}")
        mode: Any = "gross" if m["gn"] == b"G" else "net"
        text, unit_text = m["weight"].decode(), m["unit"].decode().strip()
        if not text.strip() and not unit_text:
            return Reading(
                kind="weight",
                condition="error",
                mode=mode,
                extra={"out_of_range": True, "unit_text": ""},
            )
        if len(text.strip()) == 7 and "." not in text:
            raise FrameError(f"7-character weight {text!r} without a decimal point")
        unit = known_unit(unit_text)
        sign = "-" if m["pol"] == b"-" else ""
        return Reading(
            kind="weight",
            weight=parse_decimal(sign + text),
            unit=unit,
            mode=mode,
            extra={} if unit else {"unit_text": unit_text},
        )


def encode_frame(
    value: str, *, unit: str = "kg", net: bool = False, negative: bool = False
) -> bytes:
    """A frame; ``value`` as displayed with leading zeros (``"012340"``)."""
    pol = "-" if negative else "+"
    return f" {'N' if net else 'G'}{pol}{value} {unit:<2}\r\n".encode("ascii")
