"""Bilanciai strings (also Dini "riP. b"): the short "Cb" string and the 30-character "ESTESA".

Cb (Dini 3590 manual p.67; Bilanciai D70/DD700 manuals; serial-protocols.md §8)::

    $  F  PPPPP  CR
       |  net weight, 5 digits, no sign, no decimal point; with more than 5 digits the
       |  least significant ones are dropped
       0 stable, 1 unstable, 3 negative / underload / overload

The Cb string carries neither decimals nor unit: options ``decimals`` (digits after the
point; negative when digits were dropped, e.g. -1 multiplies by 10) and ``unit``. Flag 3 does
not say which of negative, underload or overload it is, so it becomes condition ``error``.

ESTESA (extended, 30 characters)::

    $  net(9)  SP  tare(9)  SP  um(2)  SP  s1 s2 s3 s4  CR LF

s1..s4 are hex digits of 4 flag bits each; decoded: s1 bit 2 preset tare, bit 3 centre zero;
s2 bit 1 stable, bit 2 overload; s3 bit 0 tare entered, bit 2 weight not valid; s4 bit 1
converter fault, bit 2 configuration error (the rest kept raw in ``extra``).
"""

from __future__ import annotations

import re
from decimal import Decimal
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

CB = re.compile(
    rb"\$"
    rb"(?P<flag>[013])"  # 0 stable, 1 unstable, 3 negative/underload/overload
    rb"(?P<weight>[0-9]{5})"  # net weight, no sign, no decimal point
    rb"\r\n?"
)
ESTESA = re.compile(
    rb"\$"
    rb"(?P<net>[ +\-0-9.]{9})"  # net weight
    rb" "
    rb"(?P<tare>[ +\-0-9.]{9})"  # tare
    rb" "
    rb"(?P<unit>[ a-zA-Z]{2})"  # unit of measure
    rb" "
    rb"(?P<s1>[0-9A-F])(?P<s2>[0-9A-F])(?P<s3>[0-9A-F])(?P<s4>[0-9A-F])"  # flag nibbles
    rb"\r\n?"
)


class Bilanciai(FirmwareProfile):
    name: ClassVar[str] = "bilanciai"
    description: ClassVar[str] = "Bilanciai / Dini 'Cb' ($FPPPPP) and ESTESA strings"
    serial: ClassVar[SerialSettings] = SerialSettings(4800, 7, "E", 2, alternatives=("9600 7E2",))
    seven_bit: ClassVar[bool] = True

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("decimals", "unit")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.decimals = self._int_option("decimals", 0, low=-3, high=4)
        self.unit = self._unit_option()

    def framer(self) -> LineFramer:
        return LineFramer(b"\r", start=b"$", mask_parity=True, idle=b"\n", max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        cb = CB.fullmatch(f)
        if cb:
            return self._cb(cb)
        m = ESTESA.fullmatch(f)
        if m is None:
            raise FrameError(f"expected $FPPPPP CR or a 30-character ESTESA string, got {frame!r}")
        s1, s2, s3, s4 = (int(m[k], 16) for k in ("s1", "s2", "s3", "s4"))
        unit_text = m["unit"].decode().strip()
        unit = known_unit(unit_text)
        tare = parse_decimal(m["tare"], what="tare")
        extra: dict[str, Any] = {
            "format": "estesa",
            "flags": m["s1"].decode() + m["s2"].decode() + m["s3"].decode() + m["s4"].decode(),
            "center_of_zero": bool(s1 & 0x8),
        }
        if unit is None:
            extra["unit_text"] = unit_text
        stable = bool(s2 & 0x2)
        mode: Any = "net" if s3 & 0x1 or s1 & 0x4 else "gross"
        if s2 & 0x4:
            condition: Any = "overload"
        elif s3 & 0x4 or s4 & 0x6:
            condition = "error"
        else:
            return Reading(
                kind="weight",
                weight=parse_decimal(m["net"]),
                unit=unit,
                stable=stable,
                mode=mode,
                tare=tare,
                extra=extra,
            )
        return Reading(
            kind="weight",
            condition=condition,
            unit=unit,
            stable=stable,
            mode=mode,
            tare=tare,
            extra=extra,
        )

    def _cb(self, m: re.Match[bytes]) -> Reading:
        flag = m["flag"].decode()
        extra: dict[str, Any] = {"format": "cb", "flag": flag}
        if self.unit is None:
            extra["unit_text"] = ""
        if flag == "3":
            return Reading(
                kind="weight",
                condition="error",
                unit=self.unit,
                mode="net",
                extra=extra | {"note": "negative, underload or overload"},
            )
        weight = _scaled(int(m["weight"]), self.decimals)
        return Reading(
            kind="weight",
            weight=weight,
            unit=self.unit,
            stable=flag == "0",
            mode="net",
            extra=extra,
        )


def _scaled(counts: int, decimals: int) -> Decimal:
    """Display counts with ``decimals`` digits after the point; negative: dropped digits."""
    if decimals < 0:
        return Decimal(counts * 10**-decimals)  # plain 123450, not 1.2345E+5
    return Decimal(counts).scaleb(-decimals)


def encode_cb(counts: int, *, stable: bool = True) -> bytes:
    """A Cb string for a net weight in display counts (0..99999)."""
    return f"${'0' if stable else '1'}{counts:05d}\r".encode("ascii")


def encode_estesa(net: str, tare: str = "0", *, unit: str = "kg", flags: str = "0200") -> bytes:
    """An ESTESA string; ``flags`` are the four hex nibbles s1..s4 (``0200``: stable)."""
    return f"${net:>9} {tare:>9} {unit:<2} {flags}\r\n".encode("ascii")
