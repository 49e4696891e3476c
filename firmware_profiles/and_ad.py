"""A&D standard format (A&D GH manual §10.6; AD-4212D; serial-protocols.md §9)::

    HH , DATA(9) UNIT(3) CR LF          e.g.  ST,+00081.72  g

* HH: ``ST`` stable, ``US`` unstable, ``OL`` overload, ``QT`` count (pieces: a status, not a
  weight);
* DATA: sign + 8 characters with leading zeros and the decimal point;
* UNIT: 3 characters, right-aligned (``  g``, `` kg``, `` lb``, ``PCS``, `` ct``...).

Overload data is documented as all 9s with an exponent (``OL,+9999999E+19``-style), digit
count unverified: any data after ``OL`` is accepted and ignored (a ``-`` sign reads as
underload). Serial defaults are A&D's usual 2400 7E1 (not from the reference; check the
device).
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
    rb"(?:"
    rb"(?P<header>ST|US|QT)"  # stable / unstable / count
    rb","
    rb"(?P<data>[+\-][ 0-9.]{8})"  # sign + 8 characters
    rb"(?P<unit>[ -~]{3})"  # unit, right-aligned
    rb"|OL,(?P<overload>[ -~]{1,16})"  # overload: data not read
    rb")"
    rb"\r\n"
)


class AndAd(FirmwareProfile):
    name: ClassVar[str] = "and-ad"
    description: ClassVar[str] = "A&D standard format (ST,+00081.72  g)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        2400, 7, "E", 1, alternatives=("9600 7E1", "4800 7E1", "2400 8N1")
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "status"})
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", mask_parity=True, sync=FRAME, max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        m = FRAME.fullmatch(f)
        if m is None:
            raise FrameError(f"expected HH,data(9)unit(3) CR LF, got {frame!r}")
        if m["overload"] is not None:
            over = m["overload"].decode()
            condition: Any = "underload" if over.lstrip().startswith("-") else "overload"
            return Reading(kind="weight", condition=condition, extra={"header": "OL", "data": over})
        header = m["header"].decode()
        value = parse_decimal(m["data"])
        unit_text = m["unit"].decode().strip()
        if header == "QT":
            return Reading(
                kind="status",
                text=f"count {value} {unit_text}".strip(),
                extra={"header": header, "count": value, "unit_text": unit_text},
            )
        unit = known_unit(unit_text)
        extra: dict[str, Any] = {"header": header}
        if unit is None:
            extra["unit_text"] = unit_text
        return Reading(kind="weight", weight=value, unit=unit, stable=header == "ST", extra=extra)


def encode_frame(value: str, *, unit: str = "g", stable: bool = True) -> bytes:
    """A frame; ``value`` is the 9-character data with sign (``"+00081.72"``)."""
    return f"{'ST' if stable else 'US'},{value}{unit:>3}\r\n".encode("ascii")
