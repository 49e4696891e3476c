"""Rinstrum network protocol ("RINCMD"; rinstrum/LUA-LIB rinMessage.lua), also Rice Lake OB-350
scoreboard format 2 and the CAS X320.

Message (serial-protocols.md §6b)::

    [DC2|DC4] AA CC RRRR : data  (CR LF | CR | LF | ;)
    SOH  AA CC RRRR : data  CRC(4 hex)  EOT                  CRC-16/CCITT-FALSE of the message

* AA address byte: bit 7 response, bit 6 error, bit 5 reply required, bits 0-4 address;
* CC command: 0x05 read literal (formatted), 0x11/0x16 read final hex/decimal, ...;
* RRRR register: 0x0025 gross/net, 0x0026 gross, 0x0027 net, 0x0028 tare, ...
* an error reply has bit 6 set and a 4-hex error code as data (8400 over range, 8800 under).

Polling reads the gross register as a formatted literal: ``20050026:`` CR LF, answered e.g.
``9F050026:  15.71 t G``. The literal's layout (weight, unit, G/N) is taken from that one
manual example; it carries no motion flag. A request (bit 7 clear, e.g. our own echo on a
2-wire RS-485 line) is rejected with FrameError.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    PatternFramer,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)
from firmware_profiles.checksums import crc16_ccitt_false

FRAMES = re.compile(
    rb"\x01[^\x01\x04]{9,120}\x04"  # SOH message CRC EOT
    # plain message + terminator; the data never holds another message header (half a message
    # followed by a whole one is not read as one long message)
    rb"|[\x12\x14]?[0-9A-Fa-f]{8}:(?:(?![0-9A-Fa-f]{8}:)[^\r\n;\x01\x04]){0,100}[\r\n;]"
)
CRC_FRAME = re.compile(
    rb"\x01"
    rb"(?P<msg>[^\x01\x04]+?)"  # the message
    rb"(?P<crc>[0-9A-Fa-f]{4})"  # CRC-16/CCITT-FALSE of the message, hex
    rb"\x04"
)
MESSAGE = re.compile(
    rb"(?P<ring>[\x12\x14])?"  # DC2/DC4 prefix of the ring-network variant
    rb"(?P<addr>[0-9A-Fa-f]{2})"  # address byte
    rb"(?P<cmd>[0-9A-Fa-f]{2})"  # command
    rb"(?P<reg>[0-9A-Fa-f]{4})"  # register
    rb":"
    rb"(?P<data>[\x20-\x3a\x3c-\x7e]*)"  # data: printable, no ';' (a terminator)
    rb"(?:\r\n|[\r\n;])?"  # terminator (absent inside SOH..EOT)
)
LITERAL_WEIGHT = re.compile(
    r" *(?P<value>[+\-]? *[0-9.]*[0-9])"  # weight as displayed
    r" +(?P<unit>[A-Za-z]{1,3})"  # unit
    r"(?: +(?P<gn>[GN]))?"  # gross / net
    r" *"
)
RESPONSE, ERROR, REPLY_REQUIRED = 0x80, 0x40, 0x20
READ_LITERAL = 0x05
WEIGHT_REGISTERS = {0x0025: None, 0x0026: "gross", 0x0027: "net"}
TARE_REGISTER = 0x0028
ERRORS = {
    0xC000: "unknown",
    0xA000: "not implemented",
    0x9000: "access denied",
    0x8800: "under range",
    0x8400: "over range",
    0x8200: "illegal value",
    0x8100: "illegal operation",
    0x8040: "bad parameter",
    0x8020: "menu in use",
    0x8010: "viewer mode required",
    0x8008: "checksum required",
}


class RinstrumNet(FirmwareProfile):
    name: ClassVar[str] = "rinstrum-net"
    description: ClassVar[str] = "Rinstrum network protocol (RINCMD), read gross literal"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("19200 8N1", "4800 8N1")
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "ack", "status"})
    mode = "poll"
    poll_request: ClassVar[bytes | None] = b"20050026:\r\n"
    has_stability_flag = False

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("crc", "address")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # "required": only SOH..EOT messages with a CRC are accepted.
        self.crc = self._choice("crc", ("optional", "required"), "optional")
        # Only accept replies from this instrument address (0-31); default any.
        self.address = (
            self._int_option("address", 0, low=0, high=31) if "address" in options else None
        )

    def framer(self) -> PatternFramer:
        return PatternFramer(FRAMES, max_frame=128, idle=b"\r\n;")

    def parse(self, frame: bytes) -> Reading:
        extra: dict[str, Any] = {}
        if frame[:1] == b"\x01":
            c = CRC_FRAME.fullmatch(frame)
            if c is None:
                raise FrameError(f"expected SOH message CRC(4 hex) EOT, got {frame!r}")
            expected, got = crc16_ccitt_false(c["msg"]), int(c["crc"], 16)
            if expected != got:
                raise ChecksumError(f"{expected:04X}", f"{got:04X}")
            extra["checksum_ok"] = True
            message = c["msg"]
        elif self.crc == "required":
            raise FrameError(f"expected a CRC-framed message (option crc=required), got {frame!r}")
        else:
            message = frame
        m = MESSAGE.fullmatch(message)
        if m is None:
            raise FrameError(f"expected AACCRRRR:data, got {frame!r}")
        addr, cmd, reg = int(m["addr"], 16), int(m["cmd"], 16), int(m["reg"], 16)
        data = m["data"].decode("ascii", "replace")
        if not addr & RESPONSE:
            raise FrameError(f"a request from the host (address byte {addr:02X}), not a reply")
        if self.address is not None and addr & 0x1F != self.address:
            raise FrameError(f"reply from address {addr & 0x1F}, expected {self.address}")
        extra |= {"address": addr & 0x1F, "command": f"{cmd:02X}", "register": f"{reg:04X}"}
        if addr & ERROR:
            return _error(data, reg, extra)
        if cmd == READ_LITERAL and (reg in WEIGHT_REGISTERS or reg == TARE_REGISTER):
            w = LITERAL_WEIGHT.fullmatch(data)
            if w is None:
                raise FrameError(f"expected '<weight> <unit> [G|N]', got {data!r}")
            value = parse_decimal(w["value"])
            unit = known_unit(w["unit"])
            if unit is None:
                extra["unit_text"] = w["unit"]
            if reg == TARE_REGISTER:
                return Reading(kind="ack", tare=value, unit=unit, extra=extra)
            mode: Any = {"G": "gross", "N": "net"}.get(w["gn"] or "", WEIGHT_REGISTERS[reg])
            return Reading(kind="weight", weight=value, unit=unit, mode=mode, extra=extra)
        return Reading(kind="ack", text=data, extra=extra)


def _error(data: str, reg: int, extra: dict[str, Any]) -> Reading:
    try:
        code = int(data.strip(), 16)
    except ValueError:
        raise FrameError(f"expected a hex error code, got {data!r}") from None
    text = ERRORS.get(code, f"error {code:04X}")
    extra = extra | {"error_code": f"{code:04X}"}
    if reg in WEIGHT_REGISTERS and code in (0x8400, 0x8800):
        condition: Any = "overload" if code == 0x8400 else "underload"
        return Reading(kind="weight", condition=condition, text=text, extra=extra)
    return Reading(kind="status", condition="error", text=text, extra=extra)


def build_request(
    register: int = 0x0026,
    *,
    command: int = READ_LITERAL,
    address: int = 0,
    data: str = "",
    crc: bool = False,
) -> bytes:
    """A host request; ``build_request() == b"20050026:\\r\\n"`` (read gross, address 0)."""
    msg = f"{REPLY_REQUIRED | address:02X}{command:02X}{register:04X}:{data}".encode("ascii")
    if crc:
        return b"\x01" + msg + f"{crc16_ccitt_false(msg):04X}".encode("ascii") + b"\x04"
    return msg + b"\r\n"


def encode_reply(
    literal: str, *, register: int = 0x0026, address: int = 31, crc: bool = False
) -> bytes:
    """An instrument's reply to a read-literal request (for simulators and tests)."""
    msg = f"{RESPONSE | address:02X}{READ_LITERAL:02X}{register:04X}:{literal}".encode("ascii")
    if crc:
        return b"\x01" + msg + f"{crc16_ccitt_false(msg):04X}".encode("ascii") + b"\x04"
    return msg + b"\r\n"
