"""Toledo 8217 demand protocol ("ECR" family; Odoo IoT and pywebdriver POS scales).

Host sends one character, no terminator (serial-protocols.md §3): ``W`` weight, ``Z`` zero,
``T`` tare, ``C`` clear tare, ``E<text>`` echo test, ``F`` end echo. Replies::

    STX  WW.WWW [N]  CR        weight with its decimal point (3 decimals kg, 2 decimals lb)
    STX  ?  <status>  CR       status instead of a weight (motion, over/under, zero error)
    STX  E  CR  <text>         echo test; the echoed text follows outside the frame

Status byte bits: 0 motion, 1 over capacity, 2 under zero, 3 outside zero-capture range,
4 centre of zero, 5 net, 6 always 1 (*not* an error; pywebdriver ignores it, Odoo's newer
driver wrongly treats it as one), 7 parity.

Readings: a status with over capacity / under zero / outside zero capture is a weight reading
with condition overload / underload / error (it came instead of the weight); any other status
is a ``status`` reading (motion: stable False). The echo acknowledgement is an ``ack``; the
echoed text is not framed and is dropped as inter-frame bytes (probing is the agent's job).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    FirmwareProfile,
    FrameError,
    LineFramer,
    Mode,
    Reading,
    SerialSettings,
    parse_decimal,
)

FRAME = re.compile(
    rb"\x02"
    rb"(?:"
    rb"\?(?P<status>[\x40-\x7f])"  # '?' + status byte; bit 6 is always set
    rb"|(?P<weight>[ 0-9]*\.[0-9]+)(?P<net>N)?"  # weight with its decimal point; N = net
    rb"|(?P<echo>E)"  # acknowledgement of the echo test
    rb")"
    rb"\r"
)
FLAGS = (
    (0x01, "motion"),
    (0x02, "over_capacity"),
    (0x04, "under_zero"),
    (0x08, "outside_zero_capture"),
    (0x10, "center_of_zero"),
    (0x20, "net"),
)
UNIT_BY_DECIMALS = {3: "kg", 2: "lb"}


class Toledo8217(FirmwareProfile):
    name: ClassVar[str] = "toledo-8217"
    description: ClassVar[str] = "Mettler Toledo 8217 demand protocol (POS/ECR scales, 'W')"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 7, "E", 1, alternatives=("9600 8N1",))
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "status", "ack"})
    mode = "poll"
    poll_request: ClassVar[bytes | None] = b"W"
    seven_bit: ClassVar[bool] = True

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("unit",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # "auto": 3 decimals = kg, 2 decimals = lb (DIVA manual); or the configured unit.
        self.unit = self._choice("unit", ("auto", "kg", "lb", "g"), "auto")

    def framer(self) -> LineFramer:
        return LineFramer(b"\r", start=b"\x02", mask_parity=True, max_frame=16)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        m = FRAME.fullmatch(f)
        if m is None:
            raise FrameError(f"expected STX + weight, '?'+status or 'E' + CR, got {frame!r}")
        if m["echo"]:
            return Reading(kind="ack", text="echo", extra={"echo": True})
        if m["status"]:
            return _status(m["status"][0])
        text = m["weight"].decode()
        weight = parse_decimal(text)
        decimals = len(text) - text.index(".") - 1
        unit: Any = UNIT_BY_DECIMALS.get(decimals) if self.unit == "auto" else self.unit
        extra: dict[str, Any] = {"decimals": decimals}
        if unit is None:
            extra["unit_text"] = ""
        return Reading(
            kind="weight",
            weight=weight,
            unit=unit,
            stable=True,
            mode="net" if m["net"] else "gross",
            extra=extra,
        )


def _status(byte: int) -> Reading:
    flags = [name for bit, name in FLAGS if byte & bit]
    extra: dict[str, Any] = {"status_char": chr(byte), "flags": flags}
    mode: Mode = "net" if byte & 0x20 else "gross"
    stable = not byte & 0x01
    if byte & 0x02:
        return Reading(kind="weight", condition="overload", stable=stable, mode=mode, extra=extra)
    if byte & 0x04:
        return Reading(kind="weight", condition="underload", stable=stable, mode=mode, extra=extra)
    if byte & 0x08:
        return Reading(kind="weight", condition="error", stable=stable, mode=mode, extra=extra)
    return Reading(kind="status", stable=stable, mode=mode, extra=extra)


def request(command: str) -> bytes:
    """A host command: one character (``W``, ``Z``, ``T``, ``C``, ``F``) or ``E<text>``."""
    return command.encode("ascii")


def encode_weight(value: str, *, net: bool = False) -> bytes:
    """A weight reply, ``value`` as displayed (``"01.250"`` kg, ``"02.75"`` lb)."""
    return b"\x02" + value.encode("ascii") + (b"N" if net else b"") + b"\r"


def encode_status(*flags: str) -> bytes:
    byte = 0x40
    for bit, name in FLAGS:
        if name in flags:
            byte |= bit
    return bytes([0x02, ord("?"), byte, 0x0D])
