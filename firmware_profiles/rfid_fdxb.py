"""ISO 11784/11785 FDX-B (and HDX) readers with the WL-134 module's 30-byte frame
(Makuna/Rfid134 ``src/Rfid134.h``; serial-protocols.md §14)::

    byte   0      STX
           1-10   national id, 10 hex digits, least significant digit first
           11-14  country / manufacturer code, 4 hex digits, least significant first
           15     data block flag '0'/'1'
           16     animal flag '0'/'1'
           17-20  reserved, 4 hex digits
           21-26  reserved, 6 hex digits
           27     XOR of bytes 1-26, a raw byte (0x00-0xFF)
           28     bitwise NOT of byte 27
           29     0x03, or 0x07 for HDX tags (Makuna/Rfid134 issue #10)

The checksum bytes are raw and may equal STX or ETX, so frames are cut by length from STX
(never on ETX), with the ASCII part checked to resync after garbage.

The tag id is ISO 11784's ``CCC NNNNNNNNNNNN`` without the space: 3 country digits and 12
national digits, zero padded. A country code above 999 or a national id above 38 bits does
not fit that form and is rejected.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FixedFramer,
    FrameError,
    Reading,
    SerialSettings,
)
from firmware_profiles.checksums import xor8

LENGTH = 30
HEX_PART = re.compile(rb"[0-9A-F]{14}[01]{2}[0-9A-F]{10}")  # bytes 1-26
FRAME = re.compile(
    rb"\x02"
    rb"(?P<national>[0-9A-F]{10})"  # national id, LSB first
    rb"(?P<country>[0-9A-F]{4})"  # country code, LSB first
    rb"(?P<data_block>[01])"  # a data block follows
    rb"(?P<animal>[01])"  # animal tag
    rb"(?P<reserved0>[0-9A-F]{4})"  # reserved (retagging counter etc.)
    rb"(?P<reserved1>[0-9A-F]{6})"  # reserved
    rb"(?P<xor>.)"  # XOR of bytes 1-26, raw
    rb"(?P<inverse>.)"  # its bitwise inverse
    rb"(?P<end>[\x03\x07])",  # 0x03 FDX-B, 0x07 HDX
    re.DOTALL,
)
NATIONAL_MAX = (1 << 38) - 1


class RfidFdxb(FirmwareProfile):
    name: ClassVar[str] = "rfid-fdxb"
    description: ClassVar[str] = "ISO 11784 FDX-B/HDX readers, WL-134 30-byte frame"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 2)
    kinds: ClassVar[frozenset[str]] = frozenset({"tag"})

    def framer(self) -> FixedFramer:
        return FixedFramer(0x02, (LENGTH,), _looks_like_frame)

    def parse(self, frame: bytes) -> Reading:
        if len(frame) != LENGTH or frame[0] != 0x02 or frame[29] not in (0x03, 0x07):
            raise FrameError(f"expected STX + 28 bytes + ETX/0x07, got {frame!r}")
        expected = xor8(frame[1:27])
        if frame[27] != expected:
            raise ChecksumError(f"{expected:02X}", f"{frame[27]:02X}")
        if frame[28] != expected ^ 0xFF:
            raise ChecksumError(f"{expected ^ 0xFF:02X}", f"{frame[28]:02X}")
        m = FRAME.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected hex digits and 0/1 flags in bytes 1-26, got {frame!r}")
        national = _lsb_hex(m["national"])
        country = _lsb_hex(m["country"])
        if country > 999 or national > NATIONAL_MAX:
            raise FrameError(f"country {country} / national id {national} out of ISO 11784 range")
        extra: dict[str, Any] = {
            "tag_type": "HDX" if m["end"] == b"\x07" else "FDX-B",
            "country": country,
            "national_id": national,
            "animal": m["animal"] == b"1",
            "data_block": m["data_block"] == b"1",
            "reserved0": _lsb_hex(m["reserved0"]),
            "reserved1": _lsb_hex(m["reserved1"]),
            "checksum_ok": True,
        }
        return Reading(kind="tag", tag_id=f"{country:03d}{national:012d}", extra=extra)


def _lsb_hex(digits: bytes) -> int:
    """Hex digits sent least significant first."""
    return int(digits[::-1], 16)


def _looks_like_frame(candidate: bytes) -> bool:
    """The ASCII part and end byte are right (the checksum is left to ``parse``)."""
    return candidate[29] in (0x03, 0x07) and HEX_PART.fullmatch(candidate, 1, 27) is not None


def encode_frame(
    country: int, national: int, *, animal: bool = True, data_block: bool = False, hdx: bool = False
) -> bytes:
    body = (
        f"{national:010X}"[::-1]
        + f"{country:04X}"[::-1]
        + ("1" if data_block else "0")
        + ("1" if animal else "0")
        + "0000"
        + "000000"
    ).encode("ascii")
    cs = xor8(body)
    return b"\x02" + body + bytes([cs, cs ^ 0xFF, 0x07 if hdx else 0x03])
