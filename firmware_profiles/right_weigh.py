"""Right Weigh RWLS load gauges: axle weights over RS-232 as "NMEA-type" sentences (RWLS
RS-232 daisy-chain manual; serial-protocols.md §12)::

    $OAWTS*00                                          start of a set of axle readings
    $RWAWT,<axle name>,<weight lb>,<gauge serial>*CS   one axle; always pounds
    $OAWTE*00                                          end of the set

CS is the NMEA XOR of everything between ``$`` and ``*``. The start/end markers carry ``*00``,
which is *not* their XOR (that would be 5E / 48): they are exempt and become ``status``
readings (text ``start``/``end``). The gauges send no motion flag and no gross/net mode.
Serial defaults are not documented in the reference (assumed 9600 8N1).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
)
from firmware_profiles.checksums import hex2, xor8

SENTENCE = re.compile(
    rb"\$"
    rb"(?P<body>[^$*\x00-\x1f\x7f-\xff]+)"  # everything the checksum covers, printable
    rb"\*(?P<cs>[^\r\n]{2})"  # XOR, 2 hex digits
    rb"\r\n"
)
AXLE = re.compile(
    r"RWAWT,"
    r"(?P<axle>[^,]{1,24}),"  # axle name, e.g. EstSteer, Drive, Cal 1
    r"(?P<weight>-?[0-9]{1,6}),"  # axle weight in pounds
    r"(?P<serial>[0-9A-Za-z]{1,16})"  # gauge serial number
)
MARKERS = {"OAWTS": "start", "OAWTE": "end"}


class RightWeigh(FirmwareProfile):
    name: ClassVar[str] = "right-weigh"
    description: ClassVar[str] = "Right Weigh RWLS axle load gauges ($RWAWT, pounds)"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 1, alternatives=("4800 8N1",))
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "status"})
    has_stability_flag = False

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", start=b"$", max_frame=80)

    def parse(self, frame: bytes) -> Reading:
        m = SENTENCE.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected $...*XX CR LF, got {frame!r}")
        body = m["body"].decode("ascii", "replace")
        expected, got = hex2(xor8(m["body"])), m["cs"].decode("ascii", "replace")
        if body in MARKERS and got in ("00", expected):
            return Reading(
                kind="status",
                text=MARKERS[body],
                extra={
                    "sentence": body,
                    "checksum_ok": got == expected,
                    "checksum_exempt": got != expected,
                },
            )
        if expected != got:
            raise ChecksumError(expected, got)
        a = AXLE.fullmatch(body)
        if a is None:
            raise FrameError(f"expected $RWAWT,axle,weight,serial, got {frame!r}")
        return Reading(
            kind="weight",
            weight=Decimal(int(a["weight"])),
            unit="lb",
            extra={"axle": a["axle"], "gauge_serial": a["serial"], "checksum_ok": True},
        )


def encode_axle(axle: str, pounds: int, serial: str = "11111111") -> bytes:
    body = f"RWAWT,{axle},{pounds},{serial}".encode("ascii")
    return b"$" + body + b"*" + hex2(xor8(body)).encode("ascii") + b"\r\n"


def encode_marker(*, start: bool) -> bytes:
    return b"$OAWTS*00\r\n" if start else b"$OAWTE*00\r\n"
