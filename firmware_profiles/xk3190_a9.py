"""Yaohua XK3190-A9 / A26 / A23P / D9 continuous output (and clones such as Keli D2008).

tF=0, 12 bytes (A26 manual p.12, A23P p.23, D9 protocol page; serial-protocols.md §10)::

    STX  SIGN  dddddd  D  XX  ETX
         +/-   six     |  XOR of SIGN..D as 2 upper-case hex characters
               digits  decimals counted from the right, 0-4 (NOT a seventh digit)

``=`` formats, 9 bytes, no terminator; the digit order differs between manuals and cannot be
told from the content (``=0003.000`` reads 3.000 one way and 0.3 the other), so it is a
deployment option, ``digit_order``:

* ``msb_first`` (forward): ``=`` SIGN(``0``/``-``) + 7 characters, ``=0003.000`` = 3.000;
* ``lsb_first`` (reversed): ``=`` + 7 characters least significant first + SIGN,
  ``=000.3000`` = 3.000, ``=00.1000-`` = -1.00.

Without the option an ``=`` frame is rejected rather than guessed. None of these formats has a
motion flag or a unit (option ``unit``).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    PatternFramer,
    ProfileError,
    Reading,
    SerialSettings,
    parse_decimal,
)
from firmware_profiles.checksums import hex2, xor8

FRAMES = re.compile(rb"\x02[^\x02\x03]{10}\x03|=[^=\x02\x03]{8}")
TF0 = re.compile(
    rb"\x02"
    rb"(?P<sign>[+\-])"  # sign
    rb"(?P<digits>[0-9]{6})"  # six digits, most significant first
    rb"(?P<decimals>[0-4])"  # number of decimals, counted from the right
    rb"(?P<xor>[0-9A-F]{2})"  # XOR of sign..decimals, upper-case hex
    rb"\x03"
)
EQUALS = re.compile(rb"=(?P<body>[0-9.\-]{8})")  # '=' + 8 characters (sign + 7, in some order)


class Xk3190A9(FirmwareProfile):
    name: ClassVar[str] = "xk3190-a9"
    description: ClassVar[str] = "Yaohua XK3190-A9/A26/D9 tF=0 12-byte frame and '=' formats"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("4800 8N1", "2400 8N1", "1200 8N1")
    )
    has_stability_flag = False

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("digit_order", "unit")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.digit_order = (
            self._choice("digit_order", ("msb_first", "lsb_first"), "msb_first")
            if "digit_order" in options
            else None
        )
        self.unit = self._unit_option()

    def framer(self) -> PatternFramer:
        return PatternFramer(FRAMES, max_frame=12, idle=b"\r\n")

    def parse(self, frame: bytes) -> Reading:
        extra: dict[str, Any] = {} if self.unit else {"unit_text": ""}
        if frame[:1] == b"=":
            value = self._equals(frame)
            return Reading(
                kind="weight",
                weight=value,
                unit=self.unit,
                extra=extra | {"format": self.digit_order},
            )
        if len(frame) != 12 or frame[0] != 0x02 or frame[11] != 0x03:
            raise FrameError(f"expected STX + 10 bytes + ETX, got {frame!r}")
        expected, got = hex2(xor8(frame[1:9])), frame[9:11].decode("ascii", "replace")
        if expected != got:
            raise ChecksumError(expected, got)
        m = TF0.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected STX sign 6 digits decimals XOR ETX, got {frame!r}")
        decimals = int(m["decimals"])
        value = Decimal(int(m["digits"])).scaleb(-decimals)
        if m["sign"] == b"-":
            value = -value
        return Reading(
            kind="weight",
            weight=value,
            unit=self.unit,
            extra=extra | {"format": "tf0", "decimals": decimals, "checksum_ok": True},
        )

    def _equals(self, frame: bytes) -> Decimal:
        m = EQUALS.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected '=' + 8 characters, got {frame!r}")
        if self.digit_order is None:
            raise ProfileError(
                "'=' frame but the digit order is unknown: set option digit_order="
                "msb_first (forward) or lsb_first (reversed)"
            )
        body = m["body"].decode()
        sign, digits = (
            (body[0], body[1:]) if self.digit_order == "msb_first" else (body[-1], body[:-1][::-1])
        )
        if sign not in "0-" or "-" in digits:
            raise FrameError(f"expected sign 0 or - and 7 digits, got {body!r}")
        value = parse_decimal(digits)
        return -value if sign == "-" else value


def encode_tf0(counts: int, decimals: int = 0) -> bytes:
    """A tF=0 frame for a displayed value ``counts`` x 10^-decimals."""
    body = f"{'-' if counts < 0 else '+'}{abs(counts):06d}{decimals}".encode("ascii")
    return b"\x02" + body + hex2(xor8(body)).encode("ascii") + b"\x03"


def encode_equals(display: str, *, digit_order: str = "msb_first") -> bytes:
    """An ``=`` frame for a displayed value of 7 characters with the point (``"003.000"``),
    optionally prefixed by ``-``."""
    sign, digits = ("-", display[1:]) if display.startswith("-") else ("0", display)
    digits = digits.rjust(7, "0")
    body = sign + digits if digit_order == "msb_first" else digits[::-1] + sign
    return b"=" + body.encode("ascii")
