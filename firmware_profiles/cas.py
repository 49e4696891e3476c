"""CAS indicators (CI-400/CI-600D/CI-150A/NT-200) and the "ST,GS," family.

22-byte CAS format (CI-400 manual appendix 1; serial-protocols.md §9)::

    HH , KK , ID LAMP , DATA(8) SP UNIT(2) CR LF

* HH ``ST`` stable, ``US`` unstable, ``OL`` overload; KK ``GS`` gross, ``NT`` net;
* ID: device id as ASCII; LAMP: one byte >= 0x80 (bit 7 set: read 8-bit, never as ASCII):
  bit 6 stable, 4 hold, 3 printer, 2 gross, 1 tare, 0 zero;
* DATA: 8 characters, e.g. ``000013.5``; the place of the sign is unverified.

Also accepted, because vendors vary the separators: the 18-byte "AND" variant
``HH,KK,DATA(8)UNIT(2) CR LF`` (``ST,GS,+  4.876kg``) and the comma-less capture
``ST,GS    59.6kg`` (ilwk/weighbridge-reader). The 10-byte ``DATA(8) CR LF`` format carries no
status and is not handled.
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
    rb"(?P<state>ST|US|OL)"  # HH: stable / unstable / overload
    rb","
    rb"(?P<kk>GS|NT)"  # KK: gross / net
    rb"(?:,(?P<id>[\x20-\x7e])(?P<lamp>[\x80-\xff]),|,)?"  # 22-byte: ID + lamp; 18-byte: ','
    rb"(?P<weight>[ +\-0-9.]{8})"  # DATA, 8 characters
    rb" ?"  # SP before the unit (22-byte form)
    rb"(?P<unit>[ a-zA-Z]{2})"  # unit
    rb"\r\n",
    re.DOTALL,
)
LAMPS = (
    (0x40, "stable"),
    (0x10, "hold"),
    (0x08, "printer"),
    (0x04, "gross"),
    (0x02, "tare"),
    (0x01, "zero"),
)


class Cas(FirmwareProfile):
    name: ClassVar[str] = "cas"
    description: ClassVar[str] = "CAS 22-byte format (ST,GS,id lamp,data kg) and ST,GS variants"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 1, alternatives=("4800 8N1",))

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", sync=FRAME, max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        m = FRAME.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected HH,KK,[id lamp,]data(8) unit CR LF, got {frame!r}")
        state = m["state"].decode()
        unit_text = m["unit"].decode().strip()
        unit = known_unit(unit_text)
        extra: dict[str, Any] = {"state": state}
        if m["lamp"]:
            lamp = m["lamp"][0]
            extra["device_id"] = m["id"].decode()
            extra["lamps"] = [name for bit, name in LAMPS if lamp & bit]
        if unit is None:
            extra["unit_text"] = unit_text
        mode: Any = "gross" if m["kk"] == b"GS" else "net"
        if state == "OL":
            return Reading(kind="weight", condition="overload", unit=unit, mode=mode, extra=extra)
        return Reading(
            kind="weight",
            weight=parse_decimal(m["weight"]),
            unit=unit,
            stable=state == "ST",
            mode=mode,
            extra=extra,
        )


def encode_frame(
    value: str,
    *,
    unit: str = "kg",
    state: str = "ST",
    net: bool = False,
    device_id: str = "1",
    lamp: int | None = None,
) -> bytes:
    """A 22-byte frame; ``value`` is the 8-character data (``"000013.5"``)."""
    if lamp is None:
        lamp = 0xA0 | (0x40 if state == "ST" else 0) | (0x00 if net else 0x04)
    head = f"{state},{'NT' if net else 'GS'},{device_id}".encode("ascii")
    return head + bytes([lamp]) + f",{value:>8} {unit:>2}\r\n".encode("ascii")
