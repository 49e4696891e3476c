"""Rice Lake "RLWS" continuous stream (Rice Lake 680/682 tech manual §11.3.1).

Frame (serial-protocols.md §7)::

    STX  POL  wwwwwww  UNIT  G/N  S  CR [LF]

* POL: space or ``-``;
* 7 characters including the decimal point, leading zeros sent as spaces;
* UNIT: L lb, K kg, G g, T ton, O oz. ``T`` is not mapped: Rice Lake uses "ton" for the short
  ton, so it is kept as ``unit_text`` with unit None rather than guessed as tonnes;
* S: space valid, I invalid, M motion, O over/under range, Z centre of zero.
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
    parse_decimal,
)

FRAME = re.compile(
    rb"\x02"
    rb"(?P<pol>[ \-])"  # polarity
    rb"(?P<weight>[ 0-9.]{7})"  # weight, decimal point included, leading zeros as spaces
    rb"(?P<unit>[LKTGO])"  # unit letter
    rb"(?P<gn>[GN])"  # gross / net
    rb"(?P<status>[ IMOZ])"  # valid / invalid / motion / over-under / centre of zero
    rb"\r\n?"
)
UNITS: dict[str, Any] = {"L": "lb", "K": "kg", "G": "g", "T": None, "O": None}


class RiceLake(FirmwareProfile):
    name: ClassVar[str] = "rice-lake"
    description: ClassVar[str] = "Rice Lake RLWS continuous stream (STX .. CR LF)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("9600 7E1", "19200 8N1", "4800 8N1")
    )
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\r", start=b"\x02", mask_parity=True, idle=b"\n", max_frame=16)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        m = FRAME.fullmatch(f)
        if m is None:
            raise FrameError(f"expected STX POL weight(7) unit G/N status CR, got {frame!r}")
        letter, status = chr(m["unit"][0]), chr(m["status"][0])
        unit = UNITS[letter]
        extra: dict[str, Any] = {"status": status, "center_of_zero": status == "Z"}
        if unit is None:
            extra["unit_text"] = letter
        mode: Any = "gross" if m["gn"] == b"G" else "net"
        stable = status != "M"
        negative = m["pol"] == b"-"
        if status in "IO":
            condition: Any = "error" if status == "I" else ("underload" if negative else "overload")
            return Reading(
                kind="weight", condition=condition, unit=unit, stable=stable, mode=mode, extra=extra
            )
        weight = parse_decimal(("-" if negative else "") + m["weight"].decode())
        return Reading(
            kind="weight", weight=weight, unit=unit, stable=stable, mode=mode, extra=extra
        )


def encode_frame(
    value: str, *, unit: str = "K", net: bool = False, status: str = " ", negative: bool = False
) -> bytes:
    """A frame (for simulators and tests); ``value`` as displayed without sign."""
    pol = "-" if negative else " "
    return f"\x02{pol}{value:>7}{unit}{'N' if net else 'G'}{status}\r\n".encode("ascii")
