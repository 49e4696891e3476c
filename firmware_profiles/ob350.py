"""Rice Lake OB-350 "LoadRunner" on-board (refuse body) weigher: scoreboard output formats
(operators manual pp.16-18; serial-protocols.md §12). Format 2 is the Rinstrum network
protocol (profile ``rinstrum-net``); format 7 drives a BA484D display and is not handled.

Option ``format``:

* ``text`` (default): formats 1, 3, 5 and 6 together; each has its own start, so one stream
  may carry any of them::

      1   NET <weight> kg CR LF                            remote displays
      3   STX N SIGN WEIGHT(7) SP kg ETX                   net, e.g. net 15000 kg
      5   STX SIGN WEIGHT(7) G/N ETX                       Rinstrum format A
      6   $GPVWS,01,SIGN,NET(5),GVW(5),ALARM1(5),ALARM2(5),SET1,SET2,HHMMSS,DDMMYY*XX CR LF

* ``binary``: format 4, which must be chosen explicitly because its bytes can look like
  anything::

      SOH  3 unused  COUNTER  5 unused  WEIGHT(3, big-endian)  SUM

  SUM is the sum of every byte after SOH mod 256 (the manual says "longitudinal checksum";
  the sum matches all four of its examples). Frames are found by that sum: a window that
  does not add up is skipped one byte at a time, so a corrupt binary frame is dropped by the
  framer (counted in ``discarded``) rather than reported; ``parse`` alone raises
  ChecksumError. An 8-bit sum is weak (a window of mostly zero bytes inside a corrupt frame
  can add up), so after losing sync a frame is only taken when the next frame's SOH follows
  it; in sync, frames are taken at once.

Format 6 uses NMEA's XOR checksum (the manual prints ``*XX``; such a frame is rejected). Its
``$GP`` prefix is fake: it is not a GNSS sentence. Its clock has no time zone, so the time
goes to ``extra["device_time"]`` as local time, not to ``Reading.time``.

None of the formats has a motion flag (format 5 may send ``M``, which reads as not stable).
Formats 4, 5 and 6 carry no unit: set option ``unit``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    Condition,
    FirmwareProfile,
    FrameError,
    Framer,
    PatternFramer,
    Reading,
    SerialSettings,
    _BufferedFramer,
    known_unit,
    parse_decimal,
)
from firmware_profiles.checksums import hex2, sum8, xor8

TEXT_FRAMES = re.compile(
    rb"\x02[^\x02\x03]{9,12}\x03"  # formats 3 and 5
    rb"|\$[^$\r\n]{5,90}\r\n"  # format 6
    rb"|NET [^\r\n]{1,20}\r\n"  # format 1
)
FORMAT1 = re.compile(
    rb"NET +"
    rb"(?P<weight>-?[0-9.]+)"  # net weight as displayed
    rb" +(?P<unit>kg|lb|t)"  # unit
    rb"\r\n"
)
FORMAT3 = re.compile(
    rb"\x02N"  # N = net
    rb"(?P<sign>[ +\-])"  # sign
    rb"(?P<weight>[ 0-9.]{7})"  # weight, leading spaces
    rb" (?P<unit>kg|lb)"  # unit
    rb"\x03"
)
FORMAT5 = re.compile(
    rb"\x02"
    rb"(?P<sign>[ \-])"  # sign
    rb"(?P<weight>[ 0-9.]{7})"  # weight, leading spaces
    rb"(?P<status>[GNMOUE])"  # gross / net / motion / overload / underload / error
    rb"\x03"
)
FORMAT6 = re.compile(
    rb"\$(?P<body>GPVWS,"
    rb"(?P<type>[0-9]{2}),"  # sentence type, 01
    rb"(?P<sign>[+\-]),"  # sign of the net weight
    rb"(?P<net>[0-9]{5}),"  # net weight
    rb"(?P<gvw>[0-9]{5}),"  # gross vehicle weight
    rb"(?P<alarm1>[0-9]{5}),"  # alarm set points
    rb"(?P<alarm2>[0-9]{5}),"
    rb"(?P<set1>[^,*\x00-\x1f\x7f-\xff]*),"  # set-point states, e.g. NS0, GP0
    rb"(?P<set2>[^,*\x00-\x1f\x7f-\xff]*),"
    rb"(?P<hhmmss>[0-9]{6}),"  # device clock, local time
    rb"(?P<ddmmyy>[0-9]{6})"
    rb")\*(?P<cs>[^\r\n]{2})"  # NMEA XOR of the body
    rb"\r\n"
)
GPVWS_SHAPE = re.compile(rb"\$(?P<body>[^*]*)\*(?P<cs>[^\r\n]{2})\r\n")
SOH = 0x01
BINARY_LENGTH = 14
CONDITIONS: dict[str, Condition] = {"O": "overload", "U": "underload", "E": "error"}


class Ob350(FirmwareProfile):
    name: ClassVar[str] = "ob350"
    description: ClassVar[str] = "Rice Lake OB-350 LoadRunner scoreboard formats 1/3/4/5/6"
    serial: ClassVar[SerialSettings] = SerialSettings(9600, 8, "N", 1, alternatives=("4800 8N1",))
    has_stability_flag = False

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("format", "unit")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.format = self._choice("format", ("text", "binary"), "text")
        self.unit = self._unit_option()

    def framer(self) -> Framer:
        if self.format == "binary":
            return Format4Framer()
        return PatternFramer(TEXT_FRAMES, max_frame=100)

    def parse(self, frame: bytes) -> Reading:
        if self.format == "binary":
            return self._format4(frame)
        if frame[:1] == b"$":
            return self._format6(frame)
        if frame[:1] == b"N":
            m = FORMAT1.fullmatch(frame)
            if m is None:
                raise FrameError(f"expected format 1 'NET <weight> <unit>' CR LF, got {frame!r}")
            return Reading(
                kind="weight",
                weight=parse_decimal(m["weight"]),
                unit=known_unit(m["unit"]),
                mode="net",
                extra={"format": 1},
            )
        m3 = FORMAT3.fullmatch(frame)
        if m3:
            weight = parse_decimal(m3["sign"].strip().decode() + m3["weight"].decode())
            return Reading(
                kind="weight",
                weight=weight,
                unit=known_unit(m3["unit"]),
                mode="net",
                extra={"format": 3},
            )
        m5 = FORMAT5.fullmatch(frame)
        if m5 is None:
            raise FrameError(f"expected an OB-350 format 1, 3, 5 or 6 frame, got {frame!r}")
        status = chr(m5["status"][0])
        extra = self._unit_extra() | {"format": 5, "status": status}
        mode: Any = {"G": "gross", "N": "net"}.get(status)
        stable = False if status == "M" else None
        if status in CONDITIONS:
            return Reading(
                kind="weight",
                condition=CONDITIONS[status],
                unit=self.unit,
                stable=stable,
                mode=mode,
                extra=extra,
            )
        weight = parse_decimal(m5["sign"].strip().decode() + m5["weight"].decode())
        return Reading(
            kind="weight", weight=weight, unit=self.unit, stable=stable, mode=mode, extra=extra
        )

    def _unit_extra(self) -> dict[str, Any]:
        return {} if self.unit else {"unit_text": ""}

    def _format6(self, frame: bytes) -> Reading:
        shape = GPVWS_SHAPE.fullmatch(frame)
        if shape is None:
            raise FrameError(f"expected $...*XX CR LF, got {frame!r}")
        expected, got = hex2(xor8(shape["body"])), shape["cs"].decode("ascii", "replace")
        if expected != got:
            raise ChecksumError(expected, got)
        m = FORMAT6.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected a $GPVWS sentence, got {frame!r}")
        net = Decimal(int(m["net"]))
        extra = self._unit_extra() | {
            "format": 6,
            "type": m["type"].decode(),
            "gvw": Decimal(int(m["gvw"])),
            "alarm1": Decimal(int(m["alarm1"])),
            "alarm2": Decimal(int(m["alarm2"])),
            "set1": m["set1"].decode(),
            "set2": m["set2"].decode(),
            "device_time": _local_time(m["hhmmss"].decode(), m["ddmmyy"].decode()),
            "checksum_ok": True,
        }
        return Reading(
            kind="weight",
            weight=-net if m["sign"] == b"-" else net,
            unit=self.unit,
            mode="net",
            extra=extra,
        )

    def _format4(self, frame: bytes) -> Reading:
        if len(frame) != BINARY_LENGTH or frame[0] != 0x01:
            raise FrameError(f"expected SOH + 13 bytes, got {frame.hex(' ')}")
        expected, got = sum8(frame[1:13]), frame[13]
        if expected != got:
            raise ChecksumError(f"{expected:02X}", f"{got:02X}")
        weight = Decimal(int.from_bytes(frame[10:13], "big"))  # 3 bytes, big-endian
        return Reading(
            kind="weight",
            weight=weight,
            unit=self.unit,
            mode="net",
            extra=self._unit_extra() | {"format": 4, "counter": frame[4], "checksum_ok": True},
        )


def _binary_sum_ok(candidate: bytes | bytearray) -> bool:
    return candidate[0] == SOH and sum8(bytes(candidate[1:13])) == candidate[13]


class Format4Framer(_BufferedFramer):
    """SOH + 13 bytes whose sum matches; see the module docstring on confirming sync."""

    def __init__(self) -> None:
        super().__init__(mask_parity=False, max_frame=BINARY_LENGTH)
        self.in_sync = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._append(data)
        n = BINARY_LENGTH
        while True:
            i = self._buf.find(SOH)
            if i < 0:
                if self._buf:  # bytes that are not a frame start: sync is lost
                    self.in_sync = False
                    self._drop(len(self._buf))
                return
            if i:
                self._drop(i)
                self.in_sync = False
            if len(self._buf) < n:
                return
            if not _binary_sum_ok(self._buf):
                self._drop(1)
                self.in_sync = False
                continue
            if not self.in_sync:
                if len(self._buf) == n:
                    return  # wait: the next frame's SOH confirms this one
                if self._buf[n] != SOH:
                    self._drop(1)
                    continue
            frame = bytes(self._buf[:n])
            del self._buf[:n]
            self.in_sync = True
            yield frame

    def flush(self) -> Iterator[bytes]:
        """End of input: a frame that adds up and only waited for its confirmation."""
        if len(self._buf) == BINARY_LENGTH and _binary_sum_ok(self._buf):
            frame = bytes(self._buf)
            self._buf.clear()
            yield frame
        self._drop(len(self._buf))


def _local_time(hhmmss: str, ddmmyy: str) -> str:
    try:
        t = datetime.strptime(ddmmyy + hhmmss, "%d%m%y%H%M%S")
    except ValueError:
        raise FrameError(f"bad device time {ddmmyy} {hhmmss}") from None
    return t.isoformat()


def encode_format4(weight: int, *, counter: int = 0) -> bytes:
    body = bytes(3) + bytes([counter & 0xFF]) + bytes(5) + weight.to_bytes(3, "big")
    return b"\x01" + body + bytes([sum8(body)])


def encode_format6(
    net: int,
    gvw: int,
    *,
    when: datetime,
    alarm1: int = 0,
    alarm2: int = 0,
    set1: str = "NS0",
    set2: str = "GP0",
) -> bytes:
    sign = "-" if net < 0 else "+"
    body = (
        f"GPVWS,01,{sign},{abs(net):05d},{gvw:05d},{alarm1:05d},{alarm2:05d},{set1},{set2},"
        f"{when:%H%M%S},{when:%d%m%y}"
    ).encode("ascii")
    return b"$" + body + b"*" + hex2(xor8(body)).encode("ascii") + b"\r\n"


def encode_format3(value: str, *, negative: bool = False) -> bytes:
    return f"\x02N{'-' if negative else ' '}{value:>7} kg\x03".encode("ascii")


def encode_format5(value: str, *, status: str = "N", negative: bool = False) -> bytes:
    return f"\x02{'-' if negative else ' '}{value:>7}{status}\x03".encode("ascii")
