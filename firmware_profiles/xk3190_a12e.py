"""Yaohua XK3190-A12(E) continuous output (A12E manual p.13; serial-protocols.md §10)::

    W  G/N  wwwwwww  kg  XX  CR LF        e.g.  WG004.139kg3D
    9 spaces  OL  XX  CR LF                overload  (LO: underload)

* 7 weight characters including the decimal point, ``-`` first when negative;
* XX: XOR of every byte before it, as 2 upper-case hex characters.

Lower-case variants without a checksum appear in public code, not in the manual:
``wn-0000.1kg`` (MCUSH driver comment, no line end shown) and ``wn 0002.02kg`` CR LF (the
"HEB-TW" capture, an 8-character weight field). Option ``checksum``:

* ``auto`` (default): required on the manual's upper-case ``W`` and OL/LO frames, optional on
  the lower-case variants;
* ``required``: every frame must carry one; ``optional``: verified only when present.

No motion flag: ``stable`` is None.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)
from firmware_profiles.checksums import hex2, xor8

FRAME = re.compile(
    rb"(?P<body>"
    rb"(?P<w>[Ww])"  # 'W' (manual) or 'w' (variants seen in code)
    rb"(?P<gn>[GgNn])"  # gross / net
    rb"(?P<weight>[ +\-0-9.]{7,8})"  # 7 characters with the decimal point (8 in HEB-TW)
    rb"(?P<unit>kg|lb)"  # unit
    rb"|(?P<range> {9}(?:OL|LO))"  # overload / underload
    rb")"
    rb"(?P<xor>[0-9A-Fa-f]{2})?"  # XOR of the body, upper-case hex
    rb"(?:\r\n)?"  # CR LF (missing in one code comment)
)


class Xk3190A12e(FirmwareProfile):
    name: ClassVar[str] = "xk3190-a12e"
    description: ClassVar[str] = "Yaohua XK3190-A12(E) 'WG004.139kg3D' with XOR checksum"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("4800 8N1", "2400 8N1", "1200 8N1")
    )
    has_stability_flag = False

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("checksum",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.checksum = self._choice("checksum", ("auto", "required", "optional"), "auto")

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", sync=FRAME, max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        m = FRAME.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected W G/N weight kg XX CR LF or OL/LO, got {frame!r}")
        extra: dict[str, Any] = {}
        if m["xor"] is not None:
            expected, got = hex2(xor8(m["body"])), m["xor"].decode()
            if expected != got:
                raise ChecksumError(expected, got)
            extra["checksum_ok"] = True
        else:
            manual_form = m["range"] is not None or m["w"] == b"W"
            if self.checksum == "required" or (self.checksum == "auto" and manual_form):
                raise FrameError(f"expected an XOR checksum before CR LF, got {frame!r}")
            extra["checksum_ok"] = None
        if m["range"] is not None:
            over = m["range"].endswith(b"OL")
            return Reading(
                kind="weight",
                condition="overload" if over else "underload",
                extra=extra | {"unit_text": ""},
            )
        mode: Any = "gross" if m["gn"] in (b"G", b"g") else "net"
        return Reading(
            kind="weight",
            weight=parse_decimal(m["weight"]),
            unit=known_unit(m["unit"]),
            mode=mode,
            extra=extra,
        )


def encode_frame(display: str, *, net: bool = False, unit: str = "kg") -> bytes:
    """A manual-form frame; ``display`` is 7 characters with the point (``"004.139"``)."""
    body = f"W{'N' if net else 'G'}{display:>7}{unit}".encode("ascii")
    return body + hex2(xor8(body)).encode("ascii") + b"\r\n"


def encode_range(*, over: bool = True) -> bytes:
    body = b" " * 9 + (b"OL" if over else b"LO")
    return body + hex2(xor8(body)).encode("ascii") + b"\r\n"
