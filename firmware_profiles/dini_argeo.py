"""Dini Argeo "STANDARD" string (3590E/DGT/DFW; 3590EKR manual §5.4, DGT4X tech manual p.52)::

    [CC] HH , KK , PPPPPPPP , UM CR LF

* CC: RS-485 address, 2 digits, only in 485 mode (option ``address`` pins it);
* HH: ``ST`` stable, ``US`` unstable, ``OL`` overload, ``UL`` underload;
* KK: ``GS`` gross, ``NT`` net; DGT also ``VL`` (microvolts) and ``RZ`` (converter points),
  which are diagnostics, not weights: they become ``status`` readings;
* PPPPPPPP: 8 characters with sign and decimal point. Where the sign sits inside the field is
  unverified, so any padding between sign and digits is accepted;
* UM: unit, 2 characters.

The extended (REXT/REXD) and "AF" strings are not handled.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    FirmwareProfile,
    FrameError,
    LineFramer,
    ProfileError,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)

FRAME = re.compile(
    rb"(?P<addr>[0-9]{2})?"  # CC: RS-485 address (485 mode only)
    rb"(?P<state>ST|US|OL|UL)"  # HH: stable / unstable / overload / underload
    rb","
    rb"(?P<kk>GS|NT|VL|RZ)"  # KK: gross / net / microvolts / converter points
    rb","
    rb"(?P<weight>[ +\-0-9.]{8})"  # 8 characters with sign and decimal point
    rb","
    rb"(?P<unit>[ a-zA-Z]{2})"  # unit of measure
    rb"\r\n"
)


class DiniArgeo(FirmwareProfile):
    name: ClassVar[str] = "dini-argeo"
    description: ClassVar[str] = "Dini Argeo STANDARD string ([CC]HH,KK,weight,UM)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        9600, 8, "N", 1, alternatives=("19200 8N1", "4800 8N1", "2400 8N1")
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "status"})

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("address",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # 485 mode: only frames carrying this 2-digit address are accepted.
        address = options.get("address")
        if address is not None and not re.fullmatch(r"[0-9]{2}", str(address)):
            raise ProfileError(f"{self.name}: option address must be 2 digits, got {address!r}")
        self.address = None if address is None else str(address)

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", sync=FRAME, max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        m = FRAME.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected [CC]HH,KK,weight(8),UM CR LF, got {frame!r}")
        addr = m["addr"].decode() if m["addr"] else None
        if self.address is not None and addr != self.address:
            raise FrameError(f"frame for address {addr}, expected {self.address}")
        state, kk = m["state"].decode(), m["kk"].decode()
        unit_text = m["unit"].decode().strip()
        extra: dict[str, Any] = {"state": state}
        if addr is not None:
            extra["address"] = addr
        if kk in ("VL", "RZ"):  # diagnostics: microvolts / converter points
            value = parse_decimal(m["weight"], what=kk)
            return Reading(
                kind="status",
                text=f"{kk} {value}",
                stable=state == "ST",
                extra=extra | {"diagnostic": kk, "value": value, "unit_text": unit_text},
            )
        unit = known_unit(unit_text)
        if unit is None:
            extra["unit_text"] = unit_text
        mode: Any = "gross" if kk == "GS" else "net"
        if state in ("OL", "UL"):
            return Reading(
                kind="weight",
                condition="overload" if state == "OL" else "underload",
                unit=unit,
                mode=mode,
                extra=extra,
            )
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
    address: str | None = None,
) -> bytes:
    """A STANDARD string; ``value`` as displayed, with its sign (``"-125.5"``)."""
    return f"{address or ''}{state},{'NT' if net else 'GS'},{value:>8},{unit:<2}\r\n".encode()
