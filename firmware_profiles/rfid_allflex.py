"""Allflex panel readers (manual p.19; serial-protocols.md §14), line mode::

    LA 982 000001088420 CR LF                 animal tag (ISO 11784): country + national id
    LA 00000 0 982 000001088420 CR LF         TIRIS S2000 style: reserved, data block flag first
    LR 0006 0000000018514348 CR LF            HDX industrial tag

``LA`` tags become the ISO 11784 15-digit id (3 country + 12 national digits). The ``LR``
industrial line is not ISO 11784: its meaning beyond "4 digits, 16 digits" is not documented
in the reference, so its id is the 20 digits as sent (``tag_type`` ``industrial``).
No checksum.
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
)

LINE = re.compile(
    rb"(?:"
    rb"LA "  # line mode, animal tag
    rb"(?:(?P<reserved>[0-9]{5}) (?P<data_block>[01]) )?"  # TIRIS S2000 style prefix
    rb"(?P<country>[0-9]{3}) "  # country / manufacturer code
    rb"(?P<national>[0-9]{12})"  # national id
    rb"|LR "  # line mode, HDX industrial tag
    rb"(?P<prefix>[0-9]{4}) "  # 4-digit field (meaning undocumented)
    rb"(?P<number>[0-9]{16})"  # 16-digit number
    rb")"
    rb"\r\n"
)


class RfidAllflex(FirmwareProfile):
    name: ClassVar[str] = "rfid-allflex"
    description: ClassVar[str] = "Allflex panel readers, line mode (LA / LR lines)"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 1)
    kinds: ClassVar[frozenset[str]] = frozenset({"tag"})

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", sync=LINE, max_frame=48)

    def parse(self, frame: bytes) -> Reading:
        m = LINE.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected an 'LA ...' or 'LR ...' line, got {frame!r}")
        if m["number"] is not None:
            return Reading(
                kind="tag",
                tag_id=(m["prefix"] + m["number"]).decode(),
                extra={"tag_type": "industrial"},
            )
        extra: dict[str, Any] = {"tag_type": "ISO 11784"}
        if m["reserved"] is not None:
            extra |= {"reserved": m["reserved"].decode(), "data_block": m["data_block"] == b"1"}
        return Reading(kind="tag", tag_id=(m["country"] + m["national"]).decode(), extra=extra)


def encode_line(country: int, national: int, *, tiris: bool = False) -> bytes:
    prefix = "00000 0 " if tiris else ""
    return f"LA {prefix}{country:03d} {national:012d}\r\n".encode("ascii")
