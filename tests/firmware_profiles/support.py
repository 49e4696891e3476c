"""Shared helpers for the firmware profile tests: a valid sample stream per profile (built with
each module's encode helpers), the invariants every reading must satisfy, and checksum
functions written independently of the profiles' own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from firmware_profiles import (
    FirmwareProfile,
    Framer,
    ProfileError,
    Reading,
    and_ad,
    bilanciai,
    cardinal,
    cas,
    dini_argeo,
    get_profile,
    mt_sics,
    nci,
    nmea0183,
    ob350,
    rfid_allflex,
    rfid_em4100,
    rfid_fdxb,
    rice_lake,
    right_weigh,
    rinstrum_auto,
    rinstrum_net,
    sma,
    toledo_8217,
    toledo_continuous,
    weightronix,
    xk3190_a9,
    xk3190_a12e,
)

REPO = Path(__file__).resolve().parents[2]


def shared_vectors_dir() -> Path:
    """``<shared>/reference/vectors`` (see ``tests.support.services.shared_dir``)."""
    from tests.support.services import shared_dir

    return shared_dir() / "reference" / "vectors"


# The registry names users write in configs, in registry order.
EXPECTED_NAMES = [
    "mt-sics",
    "toledo-continuous",
    "toledo-8217",
    "sma",
    "nci",
    "rinstrum-auto",
    "rinstrum-net",
    "rice-lake",
    "cardinal",
    "weightronix",
    "dini-argeo",
    "bilanciai",
    "cas",
    "and-ad",
    "xk3190-a9",
    "xk3190-a12e",
    "ob350",
    "right-weigh",
    "nmea0183",
    "rfid-em4100",
    "rfid-fdxb",
    "rfid-allflex",
]
GARBAGE = b"\x00\xff\xfe#junk%\x7f\x80"  # no start byte, terminator or letter of any profile


@dataclass(frozen=True)
class Sample:
    """A valid stream for one profile configuration."""

    id: str
    profile: str
    frames: tuple[bytes, ...]
    options: dict[str, str] = field(default_factory=dict)
    checksummed: bool = False
    """Every frame carries a checksum: a single flipped bit can never change a reading."""

    def make(self) -> FirmwareProfile:
        return get_profile(self.profile, **self.options)

    @property
    def stream(self) -> bytes:
        return b"".join(self.frames)


SAMPLES: list[Sample] = [
    Sample(
        "mt-sics",
        "mt-sics",
        (
            mt_sics.encode_weight("100.00", "g"),
            mt_sics.encode_weight("-1.250", "kg", stable=False),
            b"S +\r\n",
            b'I4 A "B207696838"\r\n',
        ),
    ),
    Sample(
        "toledo-continuous",
        "toledo-continuous",
        (
            toledo_continuous.encode_frame(12340, increment=2),
            toledo_continuous.encode_frame(-120, tare=14000, net=True, motion=True),
            b"\x0220   1980     0\r\r",  # checksum byte equals CR
            toledo_continuous.encode_frame(1234, tare=None, exponent=-2, zero_pad=True),
        ),
        checksummed=True,
    ),
    Sample(
        "toledo-8217",
        "toledo-8217",
        (
            toledo_8217.encode_weight("01.250"),
            toledo_8217.encode_status("motion"),
            toledo_8217.encode_weight("02.75", net=True),
            toledo_8217.encode_status("over_capacity"),
        ),
    ),
    Sample(
        "sma",
        "sma",
        (
            sma.encode_frame("5.025", "lb"),
            sma.encode_frame("7.650", "kg", motion=True),
            sma.encode_frame("-1.5", "kg", mode="N"),
            sma.encode_frame("----------", "kg", status="E"),
        ),
    ),
    Sample(
        "nci",
        "nci",
        (
            nci.encode_weight("0001.25", "LB", status="10"),
            nci.encode_status("20"),
            nci.encode_weight("0002.50", "KG", status="00"),
            b"\n?\r\x03",
        ),
    ),
    Sample(
        "rinstrum-auto",
        "rinstrum-auto",
        (
            rinstrum_auto.encode_frame("15000", fmt="A", status="N"),
            rinstrum_auto.encode_frame("15000", fmt="C"),
            rinstrum_auto.encode_frame("15.5", fmt="D", negative=True),
            rinstrum_auto.encode_frame("1500", fmt="3", status="G"),
            rinstrum_auto.encode_frame("15020", fmt="C", motion=True),
            rinstrum_auto.encode_frame("15000", fmt="B", status="N"),
            rinstrum_auto.encode_frame("15020", fmt="B", motion=True),
        ),
    ),
    Sample(
        "rinstrum-auto-b",
        "rinstrum-auto",
        (
            rinstrum_auto.encode_frame("15000", fmt="B", status="N"),
            rinstrum_auto.encode_frame("1.500", fmt="B", units="  t", negative=True),
            rinstrum_auto.encode_frame("15020", fmt="B", motion=True),
            rinstrum_auto.encode_frame("99999", fmt="B", status="O"),
        ),
        options={"format": "B"},
    ),
    Sample(
        "rinstrum-net",
        "rinstrum-net",
        (
            rinstrum_net.encode_reply("  15.71 t G"),
            rinstrum_net.encode_reply("  15.72 t G", crc=True),
            rinstrum_net.encode_reply(" 120.0 kg N", register=0x0027),
        ),
    ),
    Sample(
        "rice-lake",
        "rice-lake",
        (
            rice_lake.encode_frame("12340"),
            rice_lake.encode_frame("120", net=True, status="M", negative=True),
            rice_lake.encode_frame("1.25", unit="L", status="Z"),
        ),
    ),
    Sample(
        "cardinal",
        "cardinal",
        (
            cardinal.encode_stream("012340"),
            cardinal.encode_stream("012360", motion=True),
            cardinal.encode_stream("0123.4", net=True, negative=True),
        ),
    ),
    Sample(
        "cardinal-sb400",
        "cardinal",
        (
            cardinal.encode_sb400("1234.5"),
            cardinal.encode_sb400("12", unit="LB", net=True, cc="MO", negative=True),
            cardinal.encode_sb400("999999", cc="OC"),
        ),
        options={"format": "sb400"},
    ),
    Sample(
        "weightronix",
        "weightronix",
        (
            weightronix.encode_frame("012340"),
            weightronix.encode_frame("000120", net=True, negative=True),
            weightronix.encode_frame("0012.5", unit="lb"),
        ),
    ),
    Sample(
        "dini-argeo",
        "dini-argeo",
        (
            dini_argeo.encode_frame("125.5", state="US", net=True),
            dini_argeo.encode_frame("-12.5"),
            dini_argeo.encode_frame("60100", state="OL"),
        ),
    ),
    Sample(
        "bilanciai",
        "bilanciai",
        (
            bilanciai.encode_cb(12340),
            bilanciai.encode_estesa("1234.5", "100.0"),
            bilanciai.encode_cb(500, stable=False),
        ),
    ),
    Sample(
        "cas",
        "cas",
        (
            cas.encode_frame("000013.5"),
            cas.encode_frame("000020.0", state="US", net=True),
            b"ST,GS,+  4.876kg\r\n",
        ),
    ),
    Sample(
        "and-ad",
        "and-ad",
        (
            and_ad.encode_frame("+00081.72"),
            and_ad.encode_frame("-00183.96", stable=False),
            and_ad.encode_frame("+001234.5", unit="kg"),
        ),
    ),
    Sample(
        "and-ad-indicator",
        "and-ad",
        (
            and_ad.encode_frame("+0004.876", unit="kg", header2="GS"),
            and_ad.encode_frame("-0000.120", unit="kg", header2="NT", stable=False),
            and_ad.encode_frame("+0001.500", unit="kg", header2="TR"),
            b"OL,GS,+9999999E+19\r\n",
            and_ad.encode_frame("+12345.00", unit="  t", header2="GS"),
        ),
    ),
    Sample(
        "xk3190-a9",
        "xk3190-a9",
        (
            xk3190_a9.encode_tf0(2000, 2),
            xk3190_a9.encode_tf0(-12340, 0),
            xk3190_a9.encode_tf0(999999, 4),
        ),
        checksummed=True,
    ),
    Sample(
        "xk3190-a9-msb",
        "xk3190-a9",
        (
            xk3190_a9.encode_equals("003.000"),
            xk3190_a9.encode_equals("-1.00"),
        ),
        options={"digit_order": "msb_first"},
    ),
    Sample(
        "xk3190-a9-lsb",
        "xk3190-a9",
        (
            xk3190_a9.encode_equals("003.000", digit_order="lsb_first"),
            xk3190_a9.encode_equals("-1.00", digit_order="lsb_first"),
        ),
        options={"digit_order": "lsb_first"},
    ),
    Sample(
        "xk3190-a12e",
        "xk3190-a12e",
        (
            xk3190_a12e.encode_frame("004.139"),
            xk3190_a12e.encode_range(over=True),
            xk3190_a12e.encode_frame("-01.250", net=True),
        ),
        checksummed=True,
    ),
    Sample(
        "ob350",
        "ob350",
        (
            ob350.encode_format5("15000"),
            ob350.encode_format3("15000"),
            ob350.encode_format6(15000, 25000, when=datetime(2010, 2, 28, 16, 41)),
            b"NET 2160 kg\r\n",
        ),
    ),
    Sample(
        "ob350-binary",
        "ob350",
        (
            ob350.encode_format4(18520, counter=0xBE),
            ob350.encode_format4(258, counter=0x01),  # weight bytes 00 01 02: SOH and STX inside
            ob350.encode_format4(65793, counter=0x02),
        ),
        options={"format": "binary"},
        checksummed=True,
    ),
    Sample(
        "right-weigh",
        "right-weigh",
        (
            right_weigh.encode_marker(start=True),
            right_weigh.encode_axle("EstSteer", 3400),
            right_weigh.encode_axle("Cal 1", 10000, "22222222"),
            right_weigh.encode_marker(start=False),
        ),
        checksummed=True,
    ),
    Sample(
        "nmea0183",
        "nmea0183",
        (
            b"$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6D\r\n",
            b"$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68\r\n",
            nmea0183.encode_sentence("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K"),
        ),
        checksummed=True,
    ),
    Sample(
        "rfid-em4100",
        "rfid-em4100",
        (
            rfid_em4100.encode_frame("000414CD7E"),
            rfid_em4100.encode_frame("0A1B2C3D4E"),
        ),
        checksummed=True,
    ),
    Sample(
        "rfid-fdxb",
        "rfid-fdxb",
        (
            rfid_fdxb.encode_frame(999, 1234567),
            rfid_fdxb.encode_frame(982, 1088420, hdx=True),
            rfid_fdxb.encode_frame(528, 274877906943, animal=False),
        ),
        checksummed=True,
    ),
    Sample(
        "rfid-allflex",
        "rfid-allflex",
        (
            rfid_allflex.encode_line(982, 1088420),
            rfid_allflex.encode_line(982, 1088420, tiris=True),
            b"LR 0006 0000000018514348\r\n",
        ),
    ),
]


# ---------------------------------------------------------------------------------------------
# Feeding


def run(
    profile: FirmwareProfile, chunks: Iterable[bytes], framer: Framer | None = None
) -> list[bytes]:
    """Feed chunks through one framer, flush, and return every frame."""
    f = framer or profile.framer()
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(f.feed(chunk))
    frames.extend(f.flush())
    return frames


def parse_all(profile: FirmwareProfile, frames: Iterable[bytes]) -> list[Reading | ProfileError]:
    out: list[Reading | ProfileError] = []
    for frame in frames:
        try:
            out.append(profile.parse(frame))
        except ProfileError as exc:
            out.append(exc)
    return out


def readings(items: Iterable[Reading | ProfileError]) -> list[Reading]:
    return [r for r in items if isinstance(r, Reading)]


def with_even_parity(data: bytes) -> bytes:
    """What an 8N1 port reads from a 7E1 device: the parity bit lands in bit 7."""
    return bytes(b | 0x80 if bin(b & 0x7F).count("1") % 2 else b & 0x7F for b in data)


# ---------------------------------------------------------------------------------------------
# Invariants

TAG_FORMATS = {
    "rfid-em4100": re.compile(r"[0-9A-F]{10}"),
    "rfid-fdxb": re.compile(r"[0-9]{15}"),
    "rfid-allflex": re.compile(r"[0-9]{15}|[0-9]{20}"),
}
UNITS = {"kg", "g", "t", "lb"}


def check_invariants(reading: Reading, profile: FirmwareProfile) -> None:
    """What must hold for every reading any profile emits."""
    assert reading.kind in profile.kinds, (reading.kind, profile.name)
    assert reading.condition in ("ok", "overload", "underload", "error")
    assert reading.unit is None or reading.unit in UNITS
    assert reading.mode in (None, "gross", "net")
    assert reading.stable in (None, True, False)
    for value in (
        reading.weight,
        reading.tare,
        reading.lat,
        reading.lon,
        reading.speed_kmh,
        reading.course,
    ):
        assert value is None or (isinstance(value, Decimal) and value.is_finite())
    if reading.kind == "weight":
        if reading.condition == "ok":
            assert reading.weight is not None
            # unit known, or the frame did not carry one we map (kept as raw text)
            assert reading.unit is not None or "unit_text" in reading.extra, reading
        else:
            assert reading.weight is None
        if not profile.has_stability_flag:
            assert reading.stable is not True, "claims stability without a motion flag"
    else:
        assert reading.weight is None
    if reading.kind == "position":
        assert (reading.lat is None) == (reading.lon is None)
        if reading.condition != "ok":
            assert reading.lat is None
        if reading.lat is not None and reading.lon is not None:
            assert -90 <= reading.lat <= 90
            assert -180 <= reading.lon <= 180
        if reading.time is not None:
            assert reading.time.tzinfo is not None
            assert reading.time.utcoffset() == UTC.utcoffset(None)
        assert reading.speed_kmh is None or reading.speed_kmh >= 0
        assert reading.course is None or 0 <= reading.course <= 360
        assert reading.satellites is None or 0 <= reading.satellites <= 99
    else:
        assert reading.lat is None and reading.lon is None
    if reading.kind == "tag":
        assert reading.tag_id is not None
        assert TAG_FORMATS[profile.name].fullmatch(reading.tag_id), reading.tag_id
    else:
        assert reading.tag_id is None
    shown = json.loads(json.dumps(reading.to_json()))  # printable by the CLI
    # ... and what it prints says everything the reading knows: a key left out reads as null
    # ("unknown") to whoever consumes the JSON, which is not what a motion status means.
    for key in ("stable", "mode", "unit", "tare", "condition"):
        value = getattr(reading, key)
        if value is not None and (key != "condition" or value != "ok"):
            got = shown.get(key)
            if isinstance(value, Decimal) and got is not None:
                got = Decimal(str(got))
            assert got == value, (key, value, shown)


# ---------------------------------------------------------------------------------------------
# Independent checksums: written apart from the profiles' own code, used to check that no weight,
# tag or position ever comes from a frame whose checksum fails.


def _xor(data: bytes) -> int:
    acc = 0
    for b in data:
        acc ^= b
    return acc


def _crc_ccitt(data: bytes) -> int:
    # bit-serial, processing one message bit at a time (a different shape from the profile's)
    reg = 0xFFFF
    for byte in data:
        for i in range(7, -1, -1):
            bit = (byte >> i) & 1
            top = (reg >> 15) & 1
            reg = (reg << 1) & 0xFFFF
            if top ^ bit:
                reg ^= 0x1021
    return reg


def _hex_is(text: bytes, value: int) -> bool:
    return re.fullmatch(rb"[0-9A-Fa-f]{2}", text) is not None and int(text, 16) == value


def checksum_verifies(profile: str, frame: bytes) -> bool:
    """True when the frame carries no checksum, or carries one that is right."""
    if profile == "toledo-continuous":
        f = bytes(b & 0x7F for b in frame)
        return len(f) in (11, 17) or sum(f) % 128 == 0
    if profile == "xk3190-a9":
        if frame[:1] != b"\x02":
            return True
        return re.fullmatch(rb"[0-9A-F]{2}", frame[9:11]) is not None and _hex_is(
            frame[9:11], _xor(frame[1:9])
        )
    if profile == "xk3190-a12e":
        core = frame.removesuffix(b"\r\n")
        if core[-2:] in (b"kg", b"lb"):
            return core[:1] == b"w"  # only the lower-case variants may lack a checksum
        return _hex_is(core[-2:], _xor(core[:-2])) and core[-2:].upper() == core[-2:]
    if profile == "ob350":
        if frame[:1] == b"\x01":
            return len(frame) == 14 and sum(frame[1:13]) % 256 == frame[13]
        if frame[:1] == b"$":
            body, _, rest = frame[1:].partition(b"*")
            return _hex_is(rest[:2], _xor(body))
        return True
    if profile in ("right-weigh", "nmea0183"):
        body, star, rest = frame[1:].partition(b"*")
        if not star:
            return True
        return _hex_is(rest[:2], _xor(body))
    if profile == "rinstrum-net":
        if frame[:1] != b"\x01":
            return True
        msg, crc = frame[1:-5], frame[-5:-1]
        return re.fullmatch(rb"[0-9A-Fa-f]{4}", crc) is not None and int(crc, 16) == _crc_ccitt(msg)
    if profile == "rfid-em4100":
        hexpart = frame[1:13]
        try:
            raw = bytes.fromhex(hexpart.decode())
        except ValueError:
            return False
        return _xor(raw[:5]) == raw[5]
    if profile == "rfid-fdxb":
        cs = _xor(frame[1:27])
        return frame[27] == cs and frame[28] == 0xFF - cs
    return True


def reading_key(reading: Reading) -> Any:
    """What a reading says, for comparing readings of a frame with a flipped bit."""
    return (
        reading.kind,
        reading.weight,
        reading.unit,
        reading.stable,
        reading.mode,
        reading.tare,
        reading.condition,
        reading.tag_id,
        reading.lat,
        reading.lon,
    )
