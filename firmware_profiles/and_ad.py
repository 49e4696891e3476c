"""A&D standard format (A&D GH manual §10.6; AD-4212D; serial-protocols.md §9), with the
second header that A&D's weighing indicators (AD-4400 series) add::

    HH , DATA(9) UNIT(3) CR LF          e.g.  ST,+00081.72  g          balances
    HH , KK , DATA(9) UNIT(3) CR LF     e.g.  ST,GS,+0004.876 kg       indicators

* HH (header 1): ``ST`` stable, ``US`` unstable, ``OL`` overload, ``QT`` count (pieces: a
  status, not a weight);
* KK (header 2, indicators only): ``GS`` gross, ``NT`` net, ``TR`` tare (the data is the tare
  in use, not a load on the scale: a ``status`` reading carrying ``tare``);
* DATA: sign + 8 characters with leading zeros and the decimal point;
* UNIT: 3 characters, right-aligned (``  g``, `` kg``, `` lb``, ``  t``, ``PCS``...).

Overload data is documented as all 9s with an exponent (``OL,+9999999E+19``-style), digit
count unverified: any data after ``OL`` (and its second header) is accepted and ignored, so an
overload never reads as a weight; a ``-`` sign reads as underload. Serial defaults are A&D's
usual 2400 7E1 (not from the reference; check the device).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from firmware_profiles.base import (
    Condition,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Mode,
    Reading,
    SerialSettings,
    known_unit,
    parse_decimal,
)

FRAME = re.compile(
    rb"(?:"
    rb"(?P<header>ST|US|QT)"  # header 1: stable / unstable / count
    rb","
    rb"(?:(?P<kk>GS|NT|TR),)?"  # header 2 (indicators): gross / net / tare
    rb"(?P<data>[+\-][ 0-9.]{8})"  # sign + 8 characters
    rb"(?P<unit>[ -~]{3})"  # unit, right-aligned
    rb"|OL,(?:(?P<ol_kk>GS|NT|TR),)?(?P<overload>[ -~]{1,16})"  # overload: data not read
    rb")"
    rb"\r\n"
)
MODES: dict[bytes, Mode] = {b"GS": "gross", b"NT": "net"}


class AndAd(FirmwareProfile):
    name: ClassVar[str] = "and-ad"
    description: ClassVar[str] = "A&D standard format (ST,+00081.72  g; ST,GS,+0004.876 kg)"
    serial: ClassVar[SerialSettings] = SerialSettings(
        2400, 7, "E", 1, alternatives=("9600 7E1", "4800 7E1", "2400 8N1")
    )
    kinds: ClassVar[frozenset[str]] = frozenset({"weight", "status"})
    seven_bit: ClassVar[bool] = True

    def framer(self) -> LineFramer:
        return LineFramer(b"\r\n", mask_parity=True, sync=FRAME, max_frame=32)

    def parse(self, frame: bytes) -> Reading:
        f = bytes(b & 0x7F for b in frame)
        m = FRAME.fullmatch(f)
        if m is None:
            raise FrameError(f"expected HH,[KK,]data(9)unit(3) CR LF, got {frame!r}")
        if m["overload"] is not None:
            over = m["overload"].decode()
            condition: Condition = "underload" if over.lstrip().startswith("-") else "overload"
            extra: dict[str, Any] = {"header": "OL", "data": over}
            kk = m["ol_kk"]
            if kk is not None:
                extra["header2"] = kk.decode()
            # An overloaded tare display is not a weight either; it still reports the state.
            return Reading(kind="weight", condition=condition, mode=MODES.get(kk), extra=extra)
        header = m["header"].decode()
        value = parse_decimal(m["data"])
        unit_text = m["unit"].decode().strip()
        kk = m["kk"]
        extra = {"header": header}
        if kk is not None:
            extra["header2"] = kk.decode()
        if header == "QT":
            return Reading(
                kind="status",
                text=f"count {value} {unit_text}".strip(),
                extra=extra | {"count": value, "unit_text": unit_text},
            )
        unit = known_unit(unit_text)
        if unit is None:
            extra["unit_text"] = unit_text
        stable = header == "ST"
        if kk == b"TR":
            return Reading(
                kind="status", tare=value, unit=unit, stable=stable, text="tare", extra=extra
            )
        return Reading(
            kind="weight", weight=value, unit=unit, stable=stable, mode=MODES.get(kk), extra=extra
        )


def encode_frame(
    value: str, *, unit: str = "g", stable: bool = True, header2: str | None = None
) -> bytes:
    """A frame; ``value`` is the 9-character data with sign (``"+00081.72"``); ``header2``
    (``GS``/``NT``/``TR``) gives the indicator form."""
    second = f"{header2}," if header2 else ""
    return f"{'ST' if stable else 'US'},{second}{value}{unit:>3}\r\n".encode("ascii")
