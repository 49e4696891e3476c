"""EM4100 (125 kHz) card and tag readers in the RDM6300 / ID-12 style.

Frame (serial-protocols.md §14)::

    STX  10 hex (1 version/customer byte + 4 id bytes)  2 hex (XOR of the 5 bytes)  [CR LF]  ETX

The tag id is the 10 hex digits, upper case.
"""

from __future__ import annotations

import re
from typing import ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
)

FRAME = re.compile(
    rb"\x02"
    rb"(?P<id>[0-9A-Fa-f]{10})"  # version byte + 32-bit id, hex
    rb"(?P<cs>[0-9A-Fa-f]{2})"  # XOR of the five id bytes, hex
    rb"(?:\r\n)?"  # ID-12 style readers add CR LF
    rb"\x03"
)


class RfidEm4100(FirmwareProfile):
    name: ClassVar[str] = "rfid-em4100"
    description: ClassVar[str] = "EM4100 125 kHz readers (RDM6300, ID-12 style ASCII frames)"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 1)
    kinds: ClassVar[frozenset[str]] = frozenset({"tag"})

    def framer(self) -> LineFramer:
        return LineFramer(b"\x03", start=b"\x02", max_frame=16)

    def parse(self, frame: bytes) -> Reading:
        m = FRAME.fullmatch(frame)
        if not m:
            raise FrameError(f"expected STX + 12 hex digits [+ CR LF] + ETX, got {frame!r}")
        raw = bytes.fromhex(m["id"].decode())
        expected = 0
        for b in raw:
            expected ^= b
        got = int(m["cs"], 16)
        if expected != got:
            raise ChecksumError(f"{expected:02X}", f"{got:02X}")
        return Reading(kind="tag", tag_id=m["id"].decode().upper())


def encode_frame(tag_id: str) -> bytes:
    raw = bytes.fromhex(tag_id)
    cs = 0
    for b in raw:
        cs ^= b
    return b"\x02" + tag_id.upper().encode() + f"{cs:02X}".encode() + b"\x03"
