"""SMA standard serial protocol (SCP-0499, "SMA Level 1/2"): Sartorius, Fairbanks, Cardinal
(Type=0), Rice Lake and others; polled with ``<LF>W<CR>`` or streamed.

Weight reply (serial-protocols.md §4), fixed fields::

    LF  s  r  n  m  f  wwwwwwwwww  uuu  CR
        |  |  |  |  |  10 chars     unit, 3 chars (lb_, kg_, g__, oz_, t__)
        |  |  |  |  reserved / custom
        |  |  |  M = motion, space = stable
        |  |  G gross, T tare, N net, g/n high-resolution gross/net
        |  range (1 on single-range scales)
        status: Z centre of zero, O over, U under, E zero error, I initial-zero error,
                T tare error, e weight not displayed (Cardinal), space none

For E/I/T the weight field is dashes, so the digits are only read when the status is space or
Z. ``LF ? CR`` answers an unknown command; ``LF XXX:value CR`` lines answer ``A``/``B``.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    Condition,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)

REPLY = re.compile(
    rb"\n"
    rb"(?P<status>[ ZOUEITe])"  # s: status (see module docstring)
    rb"(?P<range>[0-9])"  # r: range
    rb"(?P<mode>[GTNgn])"  # n: gross / tare / net, lower case = high resolution
    rb"(?P<motion>[ M])"  # m: M = motion
    rb"(?P<custom>[ -~])"  # f: reserved / custom
    rb"(?P<weight>[ +\-0-9.]{10})"  # weight, 10 chars with sign and decimal point; dashes on error
    rb"(?P<unit>[ -~]{3})"  # unit, 3 chars, left-aligned
    rb"\r"
)
ABOUT = re.compile(rb"\n(?P<field>[A-Z_]{3}):(?P<value>[ -~]*)\r")  # SMA: MFG: MOD: REV: SN_: END:
UNKNOWN_COMMAND = b"\n?\r"
CONDITIONS: dict[str, Condition] = {
    "O": "overload",
    "U": "underload",
    "E": "error",
    "I": "error",
    "T": "error",
    "e": "error",
}


class Sma(FirmwareProfile):
    name: ClassVar[str] = "sma"
    description: ClassVar[str] = "SMA SCP-0499 level 1/2 (<LF>W<CR> polling or SMA stream)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("9600 7E1", "4800 8N1", "19200 8N1")
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "ack", "status"})
    mode = "poll"
    poll_request: ClassVar[bytes | None] = b"\nW\r"
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\r", start=b"\n", mask_parity=True, max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        if f == UNKNOWN_COMMAND:
            return Reading(kind="status", condition="error", text="unrecognized command")
        about = ABOUT.fullmatch(f)
        if about:
            return Reading(
                kind="status",
                text=about["value"].decode().strip(),
                extra={"field": about["field"].decode()},
            )
        m = REPLY.fullmatch(f)
        if m is None:
            raise FrameError(f"expected LF s r n m f weight(10) unit(3) CR, got {frame!r}")
        status, mode_char = chr(m["status"][0]), chr(m["mode"][0])
        unit_text = m["unit"].decode().strip()
        unit = known_unit(unit_text)
        extra: dict[str, Any] = {
            "status": status,
            "range": int(m["range"]),
            "high_resolution": mode_char in "gn",
            "center_of_zero": status == "Z",
        }
        if unit is None:
            extra["unit_text"] = unit_text
        stable = m["motion"] == b" "
        mode: Any = {"G": "gross", "g": "gross", "N": "net", "n": "net"}.get(mode_char)
        if status in CONDITIONS:
            return Reading(
                kind="weight",
                condition=CONDITIONS[status],
                unit=unit,
                stable=stable,
                mode=mode,
                extra=extra,
            )
        value = parse_decimal(m["weight"])
        if mode_char == "T":  # reply to M (read tare) / T
            return Reading(kind="ack", tare=value, unit=unit, stable=stable, extra=extra)
        return Reading(
            kind="weight", weight=value, unit=unit, stable=stable, mode=mode, extra=extra
        )


def request(command: str) -> bytes:
    """A host command: ``request("W") == b"\\nW\\r"``."""
    return b"\n" + command.encode("ascii") + b"\r"


def encode_frame(
    value: str,
    unit: str = "kg",
    *,
    mode: str = "G",
    motion: bool = False,
    status: str = " ",
    range_: int = 1,
) -> bytes:
    """A reply (for simulators and tests); ``value`` as displayed, e.g. ``"5.025"``."""
    return (f"\n{status}{range_}{mode}{'M' if motion else ' '} {value:>10}{unit:<3}\r").encode(
        "ascii"
    )
