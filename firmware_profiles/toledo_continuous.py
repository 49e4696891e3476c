"""Mettler Toledo "Standard Continuous Output" (8142/8530 style), also spoken by Cardinal
(Type=2), Rice Lake, Fairbanks, Kern and many clones.

Frame (serial-protocols.md §2)::

    STX SWA SWB SWC wwwwww [tttttt] CR [checksum]

* 17 bytes with tare, 11 without ("SHORT"), plus an optional checksum byte after CR;
* checksum: two's complement of the 7-bit sum of every byte from STX through CR, so the 7-bit
  sum of the whole frame is 0 mod 128. It can equal CR or STX, so frames are cut by length,
  never on CR;
* 7E1 devices read at 8N1 carry parity in bit 7: every byte is masked with 0x7F first.

Only the status bits with meaning are decoded; the "always 1/0" bits differ between vendors.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    Mode,
    ProfileError,
    Reading,
    SerialSettings,
    Unit,
    _BufferedFramer,
)

STX, CR = 0x02, 0x0D
DIGITS = frozenset(b"0123456789 ")
# SWA bits 0-2: position of the decimal point, as a power of ten applied to the digits.
DP_EXPONENT = {0b000: 2, 0b001: 1, 0b010: 0, 0b011: -1, 0b100: -2, 0b101: -3, 0b110: -4, 0b111: -5}
INCREMENT = {0b01: 1, 0b10: 2, 0b11: 5}
CHECKSUM_MODES = ("auto", "required", "none")


def checksum7(data: bytes) -> int:
    """Two's complement of the 7-bit sum: the byte that makes the frame sum to 0 mod 128."""
    return (-sum(b & 0x7F for b in data)) & 0x7F


def _frame_end(buf: bytes | bytearray) -> int | None:
    """Index of the CR of a frame starting at buf[0] (10 or 16), -1 if more bytes are needed,
    None if buf[0] does not start a frame."""
    if len(buf) < 11:
        return -1 if all(b in DIGITS for b in buf[4:]) else None
    if not all(b in DIGITS for b in buf[4:10]):
        return None
    if buf[10] == CR:
        return 10
    if len(buf) < 17:
        return -1 if all(b in DIGITS for b in buf[10:]) else None
    if all(b in DIGITS for b in buf[10:16]) and buf[16] == CR:
        return 16
    return None


class ToledoFramer(_BufferedFramer):
    """STX + fixed length; the byte after CR is a checksum (``required``), absent (``none``),
    or decided per frame (``auto``): a checksum when it makes the sum 0, absent when it is the
    next STX, otherwise a bad checksum."""

    def __init__(self, checksum: str) -> None:
        super().__init__(mask_parity=True, max_frame=18)
        self.checksum = checksum

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._append(data)
        while True:
            i = self._buf.find(STX)
            if i < 0:
                self._drop(len(self._buf))
                return
            if i:
                self._drop(i)
            end = _frame_end(self._buf)
            if end is None:
                self._drop(1)
                continue
            if end < 0:
                return
            n = end + 1
            if self.checksum != "none":
                if len(self._buf) <= n:
                    return  # wait for the checksum (or the next STX) after CR
                nxt = self._buf[n]
                if not (
                    self.checksum == "auto"
                    and nxt == STX
                    and checksum7(bytes(self._buf[: n + 1])) != 0
                ):
                    n += 1
            frame = bytes(self._buf[:n])
            del self._buf[:n]
            yield frame

    def flush(self) -> Iterator[bytes]:
        if self.checksum == "auto":
            end = _frame_end(self._buf) if self._buf[:1] == bytes([STX]) else None
            if end is not None and end >= 0 and len(self._buf) == end + 1:
                frame = bytes(self._buf)
                self._buf.clear()
                yield frame
                return
        self._drop(len(self._buf))


class ToledoContinuous(FirmwareProfile):
    name: ClassVar[str] = "toledo-continuous"
    description: ClassVar[str] = "Mettler Toledo standard continuous output (and clones)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 7, "E", 1, alternatives=("9600 8N1", "4800 7E1", "2400 7E1")
    )
    seven_bit: ClassVar[bool] = True

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("checksum",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.checksum = str(options.get("checksum", "auto"))
        if self.checksum not in CHECKSUM_MODES:
            raise ProfileError(f"{self.name}: checksum must be one of {CHECKSUM_MODES}")

    def framer(self) -> ToledoFramer:
        return ToledoFramer(self.checksum)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)  # parity lives in bit 7
        if len(f) not in (11, 12, 17, 18) or f[0] != STX:
            raise FrameError(f"expected STX and 11, 12, 17 or 18 bytes, got {len(f)} bytes")
        has_tare = len(f) >= 17
        cr_at = 16 if has_tare else 10
        if f[cr_at] != CR:
            raise FrameError(f"expected CR at byte {cr_at + 1}, got {f[cr_at]:02X}")
        has_checksum = len(f) == cr_at + 2
        if has_checksum:
            expected = checksum7(f[: cr_at + 1])
            if expected != f[-1]:
                raise ChecksumError(f"{expected:02X}", f"{f[-1]:02X}")
        elif self.checksum == "required":
            raise FrameError("expected a checksum byte after CR, got none")
        swa, swb, swc = f[1], f[2], f[3]
        exponent = DP_EXPONENT[swa & 0b111]  # SWA bits 0-2: decimal point / dummy zeros
        increment = INCREMENT.get((swa >> 3) & 0b11)  # SWA bits 3-4: display increment
        net = bool(swb & 0x01)  # SWB bit 0: net
        negative = bool(swb & 0x02)  # SWB bit 1: negative
        out_of_range = bool(swb & 0x04)  # SWB bit 2: over or under range, digits meaningless
        motion = bool(swb & 0x08)  # SWB bit 3: motion
        unit: Unit = "g" if swc & 0x01 else ("kg" if swb & 0x10 else "lb")  # SWC bit 0, SWB bit 4
        extra: dict[str, Any] = {
            "increment": increment,
            "decimals": max(0, -exponent),
            "checksum_ok": True if has_checksum else None,
            "print_request": bool(swc & 0x08),  # SWC bit 3
            "expanded": bool(swc & 0x10),  # SWC bit 4
        }
        tare = _digits(f[10:16], exponent, "tare") if has_tare else None
        mode: Mode = "net" if net else "gross"
        if out_of_range:
            return Reading(
                kind="weight",
                unit=unit,
                stable=not motion,
                mode=mode,
                tare=tare,
                condition="underload" if negative else "overload",
                extra=extra,
            )
        weight = _digits(f[4:10], exponent, "weight")
        return Reading(
            kind="weight",
            weight=-weight if negative else weight,
            unit=unit,
            stable=not motion,
            mode=mode,
            tare=tare,
            extra=extra,
        )


def _digits(field: bytes, exponent: int, what: str) -> Decimal:
    text = field.decode("ascii").strip()
    if not text or not text.isdigit():
        raise FrameError(f"{what} digits {field!r} are not a number")
    if exponent >= 0:  # dummy zeros: a plain 12340, not Decimal("1.234E+4")
        return Decimal(int(text) * 10**exponent)
    return Decimal(int(text)).scaleb(exponent)


def encode_frame(
    weight: int,
    *,
    tare: int | None = 0,
    exponent: int = 0,
    increment: int = 1,
    net: bool = False,
    motion: bool = False,
    out_of_range: bool = False,
    unit: str = "kg",
    checksum: bool = True,
    zero_pad: bool = False,
) -> bytes:
    """Build a frame (for simulators and tests). ``weight`` and ``tare`` are raw display counts,
    before the decimal point given by ``exponent`` is applied."""
    dp = {v: k for k, v in DP_EXPONENT.items()}[exponent]
    inc = {v: k for k, v in INCREMENT.items()}[increment]
    swa = 0x20 | (inc << 3) | dp
    swb = 0x20 | (0x01 if net else 0) | (0x02 if weight < 0 else 0)
    swb |= (0x04 if out_of_range else 0) | (0x08 if motion else 0) | (0x10 if unit == "kg" else 0)
    swc = 0x20 | (0x01 if unit == "g" else 0)
    fmt = "{:06d}" if zero_pad else "{:>6d}"
    body = bytes([STX, swa, swb, swc]) + fmt.format(abs(weight))[-6:].encode()
    if tare is not None:
        body += fmt.format(tare)[-6:].encode()
    body += b"\r"
    return body + bytes([checksum7(body)]) if checksum else body
