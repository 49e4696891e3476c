"""Cardinal continuous output, two layouts chosen with option ``format``.

``stream`` (default): the Cardinal stream as Rice Lake indicators emit it (Rice Lake 680/682
tech manual §11.3.2, 482-AG STR-4; serial-protocols.md §7)::

    CR  POL  wwwwww  S  SP  UNIT  SP  G/N  SP SP  ETX

* POL ``+``/``-``; six digits, right-justified, leading zeros present, floating decimal point
  (a 7th character only when it holds the point: the width with a point is not documented);
* S: space valid, ``m`` motion, ``o`` over/under; unit lower case (lb kg g oz tn t); ``g``/``n``.

``sb400``: Cardinal SB-400 / "ComP" (Cardinal 201/225 manuals, continuous Type=1)::

    SIGN  wwwwww[.]  UU  G/N  CC  CR

* SIGN ``-`` or space; weight as six digits plus the decimal point when enabled (7 chars; the
  manual's ``<d>`` is read as that 7th character, unverified); UU LB/KG/OZ/G /TN/T ;
* CC: ``OC`` over capacity, ``CZ`` centre of zero, ``MO`` motion, ``ee`` not displayed,
  two spaces: none. No captured frame was available for either layout.

``tn``/``TN`` is the short ton and is left unmapped (unit None, ``unit_text``).
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

STREAM = re.compile(
    rb"\r"
    rb"(?P<pol>[+\-])"  # polarity
    rb"(?P<weight>[0-9.]{6,7})"  # six digits, leading zeros, floating decimal point
    rb"(?P<status>[ mo])"  # valid / motion / over-under
    rb" "
    rb"(?P<unit>[a-z ]{2})"  # unit, lower case
    rb" "
    rb"(?P<gn>[gn])"  # gross / net
    rb"  "
    rb"\x03"
)
SB400 = re.compile(
    rb"(?P<sign>[ \-])"  # sign
    rb"(?P<weight>[ 0-9.]{7})"  # six digits + decimal point when enabled
    rb"(?P<unit>LB|KG|OZ|G |TN|T )"  # unit
    rb"(?P<gn>[GN])"  # gross / net
    rb"(?P<cc>OC|CZ|MO|ee|  )"  # over capacity / centre of zero / motion / not displayed / none
    rb"\r\n?"
)


class Cardinal(FirmwareProfile):
    name: ClassVar[str] = "cardinal"
    description: ClassVar[str] = "Cardinal stream (as Rice Lake emits it) or Cardinal SB-400"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("9600 7E1", "4800 8N1", "19200 8N1")
    )
    seven_bit: ClassVar[bool] = True

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("format",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.format = self._choice("format", ("stream", "sb400"), "stream")

    def framer(self) -> LineFramer:
        if self.format == "stream":
            return LineFramer(b"\x03", start=b"\r", mask_parity=True, max_frame=20)
        return LineFramer(b"\r", mask_parity=True, sync=SB400, idle=b"\n", max_frame=20)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        return self._stream(f) if self.format == "stream" else self._sb400(f)

    def _stream(self, f: bytes) -> Reading:
        m = STREAM.fullmatch(f)
        if m is None:
            raise FrameError(f"expected the Cardinal stream CR POL wwwwww S .. ETX, got {f!r}")
        status = chr(m["status"][0])
        negative = m["pol"] == b"-"
        return _reading(
            weight_text=m["weight"].decode(),
            negative=negative,
            unit_text=m["unit"].decode(),
            mode="gross" if m["gn"] == b"g" else "net",
            stable=status != "m",
            condition=("underload" if negative else "overload") if status == "o" else "ok",
            extra={"status": status},
        )

    def _sb400(self, f: bytes) -> Reading:
        m = SB400.fullmatch(f)
        if m is None:
            raise FrameError(f"expected the Cardinal SB-400 string, got {f!r}")
        cc = m["cc"].decode()
        negative = m["sign"] == b"-"
        condition = {"OC": "overload", "ee": "error"}.get(cc, "ok")
        return _reading(
            weight_text=m["weight"].decode(),
            negative=negative,
            unit_text=m["unit"].decode(),
            mode="gross" if m["gn"] == b"G" else "net",
            stable=cc != "MO",
            condition=condition,
            extra={"status": cc.strip(), "center_of_zero": cc == "CZ"},
        )


def _reading(
    *,
    weight_text: str,
    negative: bool,
    unit_text: str,
    mode: Any,
    stable: bool,
    condition: Any,
    extra: dict[str, Any],
) -> Reading:
    unit = known_unit(unit_text)
    if unit is None:
        extra["unit_text"] = unit_text.strip()
    if condition != "ok":
        return Reading(
            kind="weight", condition=condition, unit=unit, stable=stable, mode=mode, extra=extra
        )
    if len(weight_text.strip()) == 7 and "." not in weight_text:
        raise FrameError(f"7-character weight {weight_text!r} without a decimal point")
    weight = parse_decimal(("-" if negative else "") + weight_text)
    return Reading(kind="weight", weight=weight, unit=unit, stable=stable, mode=mode, extra=extra)


def encode_stream(
    value: str, *, unit: str = "kg", net: bool = False, motion: bool = False, negative: bool = False
) -> bytes:
    """A Cardinal stream frame; ``value`` as displayed with leading zeros (``"012340"``)."""
    pol = "-" if negative else "+"
    return f"\r{pol}{value}{'m' if motion else ' '} {unit:<2} {'n' if net else 'g'}  \x03".encode()


def encode_sb400(
    value: str, *, unit: str = "KG", net: bool = False, cc: str = "  ", negative: bool = False
) -> bytes:
    """An SB-400 string; ``value`` as displayed, up to 7 characters (``" 1234.5"``)."""
    sign = "-" if negative else " "
    return f"{sign}{value:>7}{unit:<2}{'N' if net else 'G'}{cc}\r".encode("ascii")
