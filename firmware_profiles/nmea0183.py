"""NMEA 0183 GNSS sentences: GGA and RMC become ``position`` readings (serial-protocols.md §13).

Sentence::

    $ <talker><type> , fields... * XX CR LF      XX: XOR of every byte between $ and *

* latitude ``ddmm.mmm`` + N/S and longitude ``dddmm.mmm`` + E/W become signed decimal degrees
  (``Decimal``, rounded to 8 places, about 1 mm);
* RMC carries the date, so its time is an aware UTC ``datetime`` (two-digit years: 80-99 are
  19xx, 00-79 are 20xx). GGA has only the time of day: ``Reading.time`` stays None and the
  time of day goes to ``extra["utc_time"]`` (no guessing of the date);
* RMC speed is converted from knots to km/h (x 1.852, exact); course in degrees;
* GGA satellites in use; fix quality in ``extra``;
* RMC status ``V`` or GGA fix quality 0 means no valid fix: condition ``error`` and no
  coordinates, never a stale or zero position;
* any other sentence with a valid checksum (VTG, GSA, proprietary $P..., and the OB-350's fake
  $GPVWS) becomes a ``status`` reading with the sentence name.

A sentence without checksum is accepted only with option ``checksum=optional``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, ClassVar

from firmware_profiles.base import (
    ChecksumError,
    FirmwareProfile,
    FrameError,
    LineFramer,
    Reading,
    SerialSettings,
)
from firmware_profiles.checksums import hex2, xor8

SENTENCE = re.compile(
    rb"\$"
    rb"(?P<body>"
    rb"(?P<address>[A-Z][A-Z0-9]{1,9})"  # talker + sentence type (GPGGA, GNRMC, PGRME...)
    rb"(?P<fields>(?:,[^,*$\x00-\x1f\x7f-\xff]*)*)"  # comma-separated printable fields
    rb")"
    rb"(?:\*(?P<cs>[^\r\n]{2}))?"  # checksum
    rb"\r?\n"
)
GGA = re.compile(
    r",(?P<time>[0-9]{6}(?:\.[0-9]+)?)?"  # UTC time of day hhmmss.ss
    r",(?P<lat>[0-9]{4}(?:\.[0-9]+)?)?,(?P<ns>[NS])?"  # latitude ddmm.mmm, N/S
    r",(?P<lon>[0-9]{5}(?:\.[0-9]+)?)?,(?P<ew>[EW])?"  # longitude dddmm.mmm, E/W
    r",(?P<quality>[0-9])?"  # fix quality: 0 none, 1 GPS, 2 DGPS, ...
    r",(?P<satellites>[0-9]{1,2})?"  # satellites in use
    r",(?P<hdop>[0-9]+(?:\.[0-9]+)?)?"  # horizontal dilution of precision
    r",(?P<altitude>-?[0-9]+(?:\.[0-9]+)?)?,M?"  # altitude above mean sea level, metres
    r",(?P<geoid>-?[0-9]+(?:\.[0-9]+)?)?,M?"  # geoid separation, metres
    r",(?P<age>[0-9]+(?:\.[0-9]+)?)?"  # age of differential data
    r",(?P<station>[0-9]{0,4})"  # differential station id
)
RMC = re.compile(
    r",(?P<time>[0-9]{6}(?:\.[0-9]+)?)?"  # UTC time of day hhmmss.ss
    r",(?P<status>[AV])"  # A valid, V receiver warning
    r",(?P<lat>[0-9]{4}(?:\.[0-9]+)?)?,(?P<ns>[NS])?"  # latitude
    r",(?P<lon>[0-9]{5}(?:\.[0-9]+)?)?,(?P<ew>[EW])?"  # longitude
    r",(?P<speed>[0-9]+(?:\.[0-9]+)?)?"  # speed over ground, knots
    r",(?P<course>[0-9]+(?:\.[0-9]+)?)?"  # course over ground, degrees true
    r",(?P<date>[0-9]{6})?"  # date ddmmyy
    r",(?P<magvar>[0-9]+(?:\.[0-9]+)?)?,(?P<magdir>[EW])?"  # magnetic variation
    r"(?:,(?P<mode>[ADEFMNRSP]?))?"  # mode indicator (NMEA 2.3+)
    r"(?:,(?P<nav>[SCUV]?))?"  # navigational status (NMEA 4.1)
)
KNOT_KMH = Decimal("1.852")
DEGREE_PLACES = Decimal("1e-8")


class Nmea0183(FirmwareProfile):
    name: ClassVar[str] = "nmea0183"
    description: ClassVar[str] = "NMEA 0183 GNSS (GGA, RMC -> position)"
    serial: ClassVar[SerialSettings] = SerialSettings(4800, 8, "N", 1, alternatives=("9600 8N1",))
    kinds: ClassVar[frozenset[str]] = frozenset({"position", "status"})

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("checksum",)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.checksum = self._choice("checksum", ("required", "optional"), "required")

    def framer(self) -> LineFramer:
        return LineFramer(b"\n", start=b"$", max_frame=128)

    def parse(self, frame: bytes) -> Reading:
        m = SENTENCE.fullmatch(frame)
        if m is None:
            raise FrameError(f"expected $address,fields*XX CR LF, got {frame!r}")
        extra: dict[str, Any] = {}
        if m["cs"] is not None:
            expected, got = hex2(xor8(m["body"])), m["cs"].decode("ascii", "replace")
            if expected != got.upper():
                raise ChecksumError(expected, got)
            extra["checksum_ok"] = True
        elif self.checksum == "required":
            raise FrameError(f"sentence without checksum (option checksum=required): {frame!r}")
        else:
            extra["checksum_ok"] = None
        address = m["address"].decode()
        fields = m["fields"].decode()
        sentence = address[2:] if not address.startswith("P") else address
        extra |= {
            "talker": address[:2] if not address.startswith("P") else "P",
            "sentence": sentence,
        }
        if sentence == "GGA":
            return _gga(fields, extra)
        if sentence == "RMC":
            return _rmc(fields, extra)
        return Reading(kind="status", text=address, extra=extra | {"fields": fields[1:]})


def _gga(fields: str, extra: dict[str, Any]) -> Reading:
    g = GGA.fullmatch(fields)
    if g is None:
        raise FrameError(f"GGA fields do not match the layout: {fields!r}")
    quality = int(g["quality"]) if g["quality"] else 0
    extra |= {"fix_quality": quality, "utc_time": _time_of_day(g["time"])}
    if g["hdop"]:
        extra["hdop"] = Decimal(g["hdop"])
    if g["altitude"]:
        extra["altitude_m"] = Decimal(g["altitude"])
    satellites = int(g["satellites"]) if g["satellites"] else None
    if quality == 0:
        return Reading(kind="position", condition="error", satellites=satellites, extra=extra)
    lat, lon = _coordinates(g)
    return Reading(kind="position", lat=lat, lon=lon, satellites=satellites, extra=extra)


def _rmc(fields: str, extra: dict[str, Any]) -> Reading:
    r = RMC.fullmatch(fields)
    if r is None:
        raise FrameError(f"RMC fields do not match the layout: {fields!r}")
    extra["status"] = r["status"]
    time = _utc(r["date"], r["time"])
    if r["status"] != "A":
        return Reading(kind="position", condition="error", time=time, extra=extra)
    lat, lon = _coordinates(r)
    speed = Decimal(r["speed"]) * KNOT_KMH if r["speed"] else None
    course = Decimal(r["course"]) if r["course"] else None
    if course is not None and course > 360:
        raise FrameError(f"course {course} out of range")
    return Reading(
        kind="position", lat=lat, lon=lon, time=time, speed_kmh=speed, course=course, extra=extra
    )


def _coordinates(m: re.Match[str]) -> tuple[Decimal, Decimal]:
    if not (m["lat"] and m["ns"] and m["lon"] and m["ew"]):
        raise FrameError("valid fix without latitude/longitude")
    lat = _degrees(m["lat"], 2, 90, "latitude")
    lon = _degrees(m["lon"], 3, 180, "longitude")
    return (-lat if m["ns"] == "S" else lat), (-lon if m["ew"] == "W" else lon)


def _degrees(text: str, width: int, limit: int, what: str) -> Decimal:
    degrees, minutes = int(text[:width]), Decimal(text[width:])
    if minutes >= 60:
        raise FrameError(f"{what} minutes {minutes} out of range")
    value = (degrees + minutes / 60).quantize(DEGREE_PLACES, rounding=ROUND_HALF_EVEN)
    if value > limit:
        raise FrameError(f"{what} {value} out of range")
    return value


def _time_of_day(text: str | None) -> str | None:
    if not text:
        return None
    hh, mm, ss = int(text[0:2]), int(text[2:4]), text[4:]
    if hh > 23 or mm > 59 or Decimal(ss) >= 61:
        raise FrameError(f"bad time of day {text!r}")
    return f"{hh:02d}:{mm:02d}:{ss}"


def _utc(date: str | None, time: str | None) -> datetime | None:
    if not date or not time:
        return None
    day, month, yy = int(date[0:2]), int(date[2:4]), int(date[4:6])
    hh, mm = int(time[0:2]), int(time[2:4])
    seconds = Decimal(time[4:])
    whole = int(seconds)
    micro = int((seconds - whole) * 1_000_000)
    try:
        return datetime(
            1900 + yy if yy >= 80 else 2000 + yy, month, day, hh, mm, whole, micro, tzinfo=UTC
        )
    except ValueError:
        raise FrameError(f"bad date/time {date} {time}") from None


def encode_sentence(body: str) -> bytes:
    """``$`` + body + ``*`` + XOR + CR LF, e.g. ``encode_sentence("GPGGA,...")``."""
    raw = body.encode("ascii")
    return b"$" + raw + b"*" + hex2(xor8(raw)).encode("ascii") + b"\r\n"
