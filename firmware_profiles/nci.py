"""NCI / Weigh-Tronix "SCP-01 NCI standard" (POS and bench scales; also CAS CI-100A).

Host sends ``W<CR>`` (weight), ``S<CR>`` (status), ``Z<CR>`` (zero). Replies (serial-protocols.md
§5)::

    LF  xxxx.xxUU  CR  LF  hh..  CR  ETX      weight + status bytes
    LF  xxlb xx.xoz CR  LF  hh..  CR  ETX     pound-ounce weight
    LF  hh..  CR  ETX                         status only
    LF  ?  CR  ETX                            unknown command

Status bytes are ASCII with bits 4 and 5 set ('0' = no flag); bit 6 of bytes 2 and 3 says
another byte follows:

    bit  byte 1        byte 2            byte 3
    0    motion        under capacity    range (with bit 1)
    1    at zero       over capacity     range
    2    RAM error     ROM error         net
    3    EEPROM error  calibration error initial-zero error

The reply starts with LF and has a second LF inside, so it is framed on ETX and the line is cut
to the frame shape (``sync``), not split on LF.
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

SYNC = re.compile(rb"(?:\n[^\n\r\x03]*\r){1,2}\x03")
REPLY = re.compile(
    rb"\n"
    rb"(?:(?P<field>[^\r\n]{1,16})\r\n)?"  # weight field (absent in a status-only reply)
    rb"(?P<status>S?[\x30-\x3f][\x30-\x3f\x70-\x7f]{1,3})"  # status bytes, 'S' prefix in SCP-02
    rb"\r\x03"
)
WEIGHT = re.compile(
    r"(?P<value>[ +\-0-9.]*[0-9])"  # xxxx.xx, sign when negative
    r"(?P<unit>[A-Za-z]{1,2})"  # LB, KG, lb, kg, g, oz
)
LB_OZ = re.compile(
    r"(?P<lb>[ \-0-9]*[0-9])[Ll][Bb]"  # pounds
    r" (?P<oz>[ 0-9.]*[0-9])[Oo][Zz]"  # ounces
)
UNKNOWN_COMMAND = b"\n?\r\x03"

# (byte index, bit, flag name)
FLAGS = (
    (0, 0x01, "motion"),
    (0, 0x02, "at_zero"),
    (0, 0x04, "ram_error"),
    (0, 0x08, "eeprom_error"),
    (1, 0x01, "under_capacity"),
    (1, 0x02, "over_capacity"),
    (1, 0x04, "rom_error"),
    (1, 0x08, "calibration_error"),
    (2, 0x04, "net"),
    (2, 0x08, "initial_zero_error"),
)
ERROR_FLAGS = frozenset(
    {"ram_error", "eeprom_error", "rom_error", "calibration_error", "initial_zero_error"}
)


class Nci(FirmwareProfile):
    name: ClassVar[str] = "nci"
    description: ClassVar[str] = "NCI / Weigh-Tronix SCP-01 (W<CR> polling)"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 7, "E", 1, alternatives=("9600 8N1",))
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "status"})
    mode = "poll"
    poll_request: ClassVar[bytes | None] = b"W\r"
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\x03", mask_parity=True, sync=SYNC, max_frame=48)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        if f == UNKNOWN_COMMAND:
            return Reading(kind="status", condition="error", text="unrecognized command")
        m = REPLY.fullmatch(f)
        if m is None:
            raise FrameError(f"expected LF [weight CR LF] status CR ETX, got {frame!r}")
        raw_status = m["status"].lstrip(b"S")
        flags = [name for i, bit, name in FLAGS if i < len(raw_status) and raw_status[i] & bit]
        extra: dict[str, Any] = {"status": raw_status.decode(), "flags": flags}
        if len(raw_status) >= 3:
            extra["range"] = raw_status[2] & 0x03
        condition: Any = (
            "overload"
            if "over_capacity" in flags
            else "underload"
            if "under_capacity" in flags
            else "error"
            if ERROR_FLAGS.intersection(flags)
            else "ok"
        )
        stable = "motion" not in flags
        mode: Any = ("net" if "net" in flags else "gross") if len(raw_status) >= 3 else None
        if m["field"] is None:
            return Reading(
                kind="status",
                condition=condition,
                stable=stable,
                mode=mode,
                extra=extra | {"at_zero": "at_zero" in flags},
            )
        field = m["field"].decode()
        if condition != "ok":
            return Reading(
                kind="weight",
                condition=condition,
                stable=stable,
                mode=mode,
                extra=extra | {"field": field},
            )
        value, unit, unit_extra = _weight(field)
        return Reading(
            kind="weight",
            weight=value,
            unit=unit,
            stable=stable,
            mode=mode,
            extra=extra | unit_extra,
        )


def _weight(field: str) -> tuple[Decimal, Any, dict[str, Any]]:
    lb_oz = LB_OZ.fullmatch(field)
    if lb_oz:
        pounds = parse_decimal(lb_oz["lb"])
        ounces = parse_decimal(lb_oz["oz"], what="ounces")
        if ounces >= 16:
            raise FrameError(f"ounces {ounces} out of range in {field!r}")
        total = pounds - ounces / 16 if pounds < 0 else pounds + ounces / 16  # exact: /16
        return total, "lb", {"lb_oz": field}
    m = WEIGHT.fullmatch(field)
    if m is None:
        raise FrameError(f"expected a weight and unit, got {field!r}")
    unit = known_unit(m["unit"])
    return parse_decimal(m["value"]), unit, ({} if unit else {"unit_text": m["unit"]})


def request(command: str) -> bytes:
    """A host command: ``request("W") == b"W\\r"``."""
    return command.encode("ascii") + b"\r"


def encode_weight(value: str, unit: str = "LB", *, status: str = "00") -> bytes:
    """A weight reply, ``value`` as displayed (``"0001.25"``)."""
    return f"\n{value}{unit}\r\n{status}\r\x03".encode("ascii")


def encode_status(status: str = "00") -> bytes:
    return f"\n{status}\r\x03".encode("ascii")
