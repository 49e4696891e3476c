"""Rinstrum automatic output (R320/R400/5000/C500; CAS X320 rebrand; Rice Lake OB-350 format 5).

Formats told apart by length between STX and ETX (serial-protocols.md §6a)::

    D      STX SIGN WEIGHT(7) ETX                                   10 bytes, no status
    A / 1  STX SIGN WEIGHT(7) STATUS ETX                            11 bytes
    B      STX STATUS SIGN WEIGHT(7) UNITS(3) ETX                   14 bytes
    3      STX WEIGHT(8) G/N M/S I/O/U Z/_ SP SP ETX               16 bytes
    C / 2  STX SIGN WEIGHT(7) S1 S2 S3 S4 UNITS(3) ETX              17 bytes (FMT_6: S5 sign)

* SIGN: space positive, ``-`` negative. Traffic-light bits may ride on it (M4222 reader:
  0x20 none, 0x30 red, 0x60 green, 0x70 both): bit 4 red, bit 6 green are masked off first.
  That reading of the sign byte is inferred from one reader's comment (unverified).
* WEIGHT: includes the decimal point, leading spaces.
* STATUS (A, B): G gross, N net, U underload, O overload, M motion, E error. In format B the
  status comes first (``STX N   15000 kg ETX``; the same bytes as Rice Lake OB-350 scoreboard
  format 3).
* S1 G/N/U/O/E; S2 ``M`` or space; S3 ``Z`` centre of zero; S4 ``-`` single range, 1/2 dual.
* UNITS (B, C): e.g. `` kg``; sent as three spaces while the weight is not stable (documented
  for format C; accepted in B too).

Format D has no motion flag (``stable`` is None). The start and end characters are
configurable on the instrument; this profile expects the STX/ETX defaults. Formats A, D and 3
carry no unit: set option ``unit``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    Condition,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)

FORMATS: dict[str, re.Pattern[bytes]] = {
    "D": re.compile(
        rb"\x02"
        rb"(?P<sign>[\x20-\x7f])"  # sign (+ traffic-light bits)
        rb"(?P<weight>[ 0-9.]{7})"  # weight, decimal point included, leading spaces
        rb"\x03"
    ),
    "A": re.compile(
        rb"\x02"
        rb"(?P<sign>[\x20-\x7f])"  # sign (+ traffic-light bits)
        rb"(?P<weight>[ 0-9.]{7})"  # weight
        rb"(?P<status>[GNUOME])"  # gross / net / underload / overload / motion / error
        rb"\x03"
    ),
    "B": re.compile(
        rb"\x02"
        rb"(?P<status>[GNUOME])"  # gross / net / underload / overload / motion / error
        rb"(?P<sign>[\x20-\x7f])"  # sign (+ traffic-light bits)
        rb"(?P<weight>[ 0-9.]{7})"  # weight, decimal point included, leading spaces
        rb"(?P<units>[ a-zA-Z]{3})"  # units, right-aligned; blank while unstable
        rb"\x03"
    ),
    "3": re.compile(
        rb"\x02"
        rb"(?P<weight>[ +\-0-9.]{8})"  # weight with its sign
        rb"(?P<gn>[GN])"  # gross / net
        rb"(?P<ms>[MS])"  # motion / stable
        rb"(?P<range>[IOU])"  # in range / over / under
        rb"(?P<coz>[Z ])"  # centre of zero
        rb"  "
        rb"\x03"
    ),
    "C": re.compile(
        rb"\x02"
        rb"(?P<sign>[\x20-\x7f])"  # sign (+ traffic-light bits: FMT_6's S5)
        rb"(?P<weight>[ 0-9.]{7})"  # weight
        rb"(?P<s1>[GNUOE])"  # gross / net / underload / overload / error
        rb"(?P<s2>[M ])"  # motion
        rb"(?P<s3>[Z ])"  # centre of zero
        rb"(?P<s4>[\-12])"  # range: '-' single, 1 / 2 dual
        rb"(?P<units>[ a-zA-Z]{3})"  # units, right-aligned; blank while unstable
        rb"\x03"
    ),
}
FORMAT_BY_LENGTH = {10: "D", 11: "A", 14: "B", 16: "3", 17: "C"}
CONDITIONS: dict[str, Condition] = {"U": "underload", "O": "overload", "E": "error"}
RANGE_CONDITIONS: dict[str, Condition] = {"I": "ok", "O": "overload", "U": "underload"}
LIGHTS = {0x00: None, 0x10: "red", 0x40: "green", 0x50: "red+green"}


class RinstrumAuto(FirmwareProfile):
    name: ClassVar[str] = "rinstrum-auto"
    description: ClassVar[str] = "Rinstrum automatic output formats A/B/C/D/3 (STX..ETX, 10 Hz)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("19200 8N1", "4800 8N1", "2400 8N1")
    )

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("format", "unit")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # "auto": told apart by frame length; or pin one format so others are rejected.
        self.format = self._choice("format", ("auto", "A", "B", "C", "D", "3"), "auto")
        self.unit = self._unit_option()
        self.has_stability_flag = self.format != "D"

    def framer(self) -> LineFramer:
        return LineFramer(b"\x03", start=b"\x02", max_frame=17)

    def parse(self, frame: bytes) -> Reading:
        fmt = FORMAT_BY_LENGTH.get(len(frame))
        if fmt is None or (self.format != "auto" and fmt != self.format):
            want = "10, 11, 14, 16 or 17" if self.format == "auto" else f"format {self.format}"
            raise FrameError(f"expected a {want} frame, got {len(frame)} bytes: {frame!r}")
        m = FORMATS[fmt].fullmatch(frame)
        if m is None:
            raise FrameError(f"not a Rinstrum format {fmt} frame: {frame!r}")
        extra: dict[str, Any] = {"format": fmt}
        if fmt == "3":
            sign = ""
            weight_text = m["weight"].decode()
            stable: bool | None = m["ms"] == b"S"
            mode: Any = "gross" if m["gn"] == b"G" else "net"
            condition: Condition = RANGE_CONDITIONS[chr(m["range"][0])]
            extra["center_of_zero"] = m["coz"] == b"Z"
            unit, unit_text = self.unit, ""
        else:
            sign = _sign(m["sign"][0], extra)
            weight_text = m["weight"].decode()
            if fmt == "D":
                stable, mode, condition = None, None, "ok"
                unit, unit_text = self.unit, ""
            elif fmt in ("A", "B"):
                status = chr(m["status"][0])
                stable = status != "M"
                mode = {"G": "gross", "N": "net"}.get(status)
                condition = CONDITIONS.get(status, "ok")
                if fmt == "A":
                    unit, unit_text = self.unit, ""
                else:
                    unit_text = m["units"].decode().strip()
                    unit = known_unit(unit_text) if unit_text else self.unit
            else:
                s1 = chr(m["s1"][0])
                stable = m["s2"] != b"M"
                mode = {"G": "gross", "N": "net"}.get(s1)
                condition = CONDITIONS.get(s1, "ok")
                extra["center_of_zero"] = m["s3"] == b"Z"
                extra["range"] = m["s4"].decode()
                unit_text = m["units"].decode().strip()
                unit = known_unit(unit_text) if unit_text else self.unit
        if unit is None:
            extra["unit_text"] = unit_text
        if condition != "ok":
            return Reading(
                kind="weight", condition=condition, unit=unit, stable=stable, mode=mode, extra=extra
            )
        return Reading(
            kind="weight",
            weight=parse_decimal(sign + weight_text),
            unit=unit,
            stable=stable,
            mode=mode,
            extra=extra,
        )


def _sign(byte: int, extra: dict[str, Any]) -> str:
    """The sign character; traffic-light bits (4 red, 6 green) are recorded in ``extra``."""
    lights = LIGHTS[byte & 0x50]
    base = byte & ~0x50
    if base not in (0x20, 0x2D):
        raise FrameError(f"expected a space or '-' sign, got {byte:02X}")
    if lights:
        extra["lights"] = lights
    return "-" if base == 0x2D else ""


def encode_frame(
    value: str,
    *,
    fmt: str = "A",
    status: str = "G",
    motion: bool = False,
    units: str = " kg",
    negative: bool = False,
) -> bytes:
    """A frame (for simulators and tests); ``value`` as displayed without sign (``"15000"``)."""
    sign = "-" if negative else " "
    if fmt == "D":
        body = f"{sign}{value:>7}"
    elif fmt == "A":
        body = f"{sign}{value:>7}{'M' if motion else status}"
    elif fmt == "B":
        body = f"{'M' if motion else status}{sign}{value:>7}{units if not motion else '   '}"
    elif fmt == "3":
        body = f"{sign + value:>8}{status}{'M' if motion else 'S'}I   "
    else:
        body = f"{sign}{value:>7}{status}{'M' if motion else ' '} -{units if not motion else '   '}"
    return b"\x02" + body.encode("ascii") + b"\x03"
