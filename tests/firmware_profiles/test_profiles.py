"""Per-profile behaviour beyond the shared vectors (overloads, errors, options, status replies),
plus the registry's contract and the strict number parsing in ``base``."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from firmware_profiles import (
    PROFILES,
    ChecksumError,
    FrameError,
    ProfileError,
    SerialSettings,
    UnknownProfile,
    get_profile,
    names,
    nmea0183,
    ob350,
    rfid_fdxb,
    rinstrum_net,
)
from firmware_profiles.base import known_unit, parse_decimal
from tests.firmware_profiles.support import EXPECTED_NAMES, check_invariants

pytestmark = pytest.mark.unit

D = Decimal

# (profile, options, frame, expected): expected is an exception class, or fields of the reading
# ("extra.key" for a key of reading.extra).
CASES: list[tuple[str, dict[str, str], bytes, Any]] = [
    # mt-sics
    ("mt-sics", {}, b"S +\r\n", {"kind": "weight", "condition": "overload", "weight": None}),
    (
        "mt-sics",
        {},
        b"S S      Error 1t\r\n",
        {"condition": "error", "weight": None, "extra.error_code": "1"},
    ),
    (
        "mt-sics",
        {},
        b"S S     12.345 oz\r\n",
        {"weight": D("12.345"), "unit": None, "extra.unit_text": "oz"},
    ),
    ("mt-sics", {}, b"S S    -0.0021 kg\r\n", {"weight": D("-0.0021"), "unit": "kg"}),
    ("mt-sics", {}, b"Z I\r\n", {"kind": "ack", "condition": "error"}),
    ("mt-sics", {}, b"TA A    100.00 g\r\n", {"kind": "ack", "tare": D("100.00"), "unit": "g"}),
    ("mt-sics", {}, b"S S    1 2.00 g\r\n", FrameError),  # a space inside the digits
    ("mt-sics", {}, b"S S  --.-- g\r\n", FrameError),
    ("mt-sics", {}, b"S S\r\n", FrameError),
    ("mt-sics", {}, b"S S     100.00 g\n", FrameError),
    # toledo-8217
    ("toledo-8217", {}, b"\x02?H\r", {"kind": "weight", "condition": "error"}),
    ("toledo-8217", {}, b"\x02?A\r", {"kind": "status", "stable": False}),
    ("toledo-8217", {"unit": "lb"}, b"\x0201.250\r", {"weight": D("1.250"), "unit": "lb"}),
    ("toledo-8217", {}, b"\x0201.2\r", {"weight": D("1.2"), "unit": None}),
    ("toledo-8217", {}, b"\x0201.250N\r", {"mode": "net"}),
    ("toledo-8217", {}, b"\x02\r", FrameError),
    ("toledo-8217", {}, b"\x0201250\r", FrameError),  # no decimal point: unit unknowable
    # sma
    ("sma", {}, b"\nO1G       0.000lb \r", {"condition": "overload", "weight": None}),
    ("sma", {}, b"\nU1G      -0.000lb \r", {"condition": "underload"}),
    ("sma", {}, b"\n 1T       1.000kg \r", {"kind": "ack", "tare": D("1.000"), "unit": "kg"}),
    ("sma", {}, b"\n 1G     --.---kg \r", FrameError),  # no error status, yet no number
    (
        "sma",
        {},
        b"\n 1G       1.000oz \r",
        {"weight": D("1.000"), "unit": None, "extra.unit_text": "oz"},
    ),
    ("sma", {}, b"\n 1N      2.5   t  \r", {"weight": D("2.5")}),  # padded on the right
    ("sma", {}, b"\n 1N       2.500t  \r", {"weight": D("2.500"), "unit": "t", "mode": "net"}),
    ("sma", {}, b"\nMFG:SARTORIUS\r", {"kind": "status", "text": "SARTORIUS"}),
    ("sma", {}, b"\n?\r", {"kind": "status", "condition": "error"}),
    # nci
    ("nci", {}, b"\n12lb 03.5oz\r\n00\r\x03", {"weight": D("12.21875"), "unit": "lb"}),
    ("nci", {}, b"\n^^^^^^^LB\r\n02\r\x03", {"condition": "overload", "weight": None}),
    ("nci", {}, b"\n0001.25KG\r\n0p4\r\x03", {"weight": D("1.25"), "mode": "net", "unit": "kg"}),
    ("nci", {}, b"\n0001.25KG\r\n40\r\x03", {"condition": "error", "extra.flags": ["ram_error"]}),
    ("nci", {}, b"\n----.--LB\r\n00\r\x03", FrameError),
    ("nci", {}, b"\n01\r\x03", {"kind": "status", "condition": "underload"}),
    # rinstrum-auto
    ("rinstrum-auto", {}, b"\x02   15000O\x03", {"condition": "overload", "weight": None}),
    ("rinstrum-auto", {}, b"\x02   15000U  - kg\x03", {"condition": "underload"}),
    (
        "rinstrum-auto",
        {},
        b"\x02}  15000G\x03",
        {"weight": D("-15000"), "extra.lights": "red+green"},
    ),
    ("rinstrum-auto", {}, b"\x02-  1.500N  -  t\x03", {"weight": D("-1.500"), "unit": "t"}),
    ("rinstrum-auto", {}, b"\x021  15000G\x03", FrameError),
    (
        "rinstrum-auto",
        {},
        b"\x02  -15000NSIZ  \x03",
        {"weight": D("-15000"), "mode": "net", "stable": True, "extra.center_of_zero": True},
    ),
    ("rinstrum-auto", {}, b"\x02   15000GMO   \x03", {"condition": "overload", "stable": False}),
    (
        "rinstrum-auto",
        {"format": "D", "unit": "kg"},
        b"\x02    1500\x03",
        {"weight": D("1500"), "unit": "kg", "stable": None},
    ),
    ("rinstrum-auto", {"format": "C"}, b"\x02   15000N\x03", FrameError),
    # rinstrum-auto format B: STX STATUS SIGN WEIGHT(7) UNITS(3) ETX
    (
        "rinstrum-auto",
        {},
        b"\x02N   15000 kg\x03",
        {"weight": D("15000"), "unit": "kg", "mode": "net", "stable": True, "extra.format": "B"},
    ),
    ("rinstrum-auto", {}, b"\x02U-  15000 kg\x03", {"condition": "underload", "weight": None}),
    ("rinstrum-auto", {}, b"\x02E   15000 kg\x03", {"condition": "error", "weight": None}),
    ("rinstrum-auto", {}, b"\x02O   15000   \x03", {"condition": "overload", "weight": None}),
    (
        "rinstrum-auto",
        {},
        b"\x02M   15020   \x03",
        {"weight": D("15020"), "stable": False, "mode": None, "unit": None},
    ),
    (
        "rinstrum-auto",
        {"unit": "kg"},
        b"\x02M   15020   \x03",
        {"unit": "kg", "stable": False},  # blank units: the configured unit
    ),
    (
        "rinstrum-auto",
        {},
        b"\x02G   15000 oz\x03",
        {"weight": D("15000"), "unit": None, "extra.unit_text": "oz"},
    ),
    ("rinstrum-auto", {}, b"\x02X   15000 kg\x03", FrameError),  # no such status
    ("rinstrum-auto", {}, b"\x02N+  15000 kg\x03", FrameError),  # sign is space or '-'
    ("rinstrum-auto", {}, b"\x02N  --.--- kg\x03", FrameError),  # never 0 kg
    ("rinstrum-auto", {"format": "B"}, b"\x02   15000N\x03", FrameError),
    ("rinstrum-auto", {"format": "A"}, b"\x02N   15000 kg\x03", FrameError),
    # rinstrum-net
    ("rinstrum-net", {}, b"DF050026:8400\r\n", {"kind": "weight", "condition": "overload"}),
    ("rinstrum-net", {}, b"DF050026:8800\r\n", {"condition": "underload"}),
    (
        "rinstrum-net",
        {},
        b"C0050021:9000\r\n",
        {"kind": "status", "condition": "error", "text": "access denied"},
    ),
    (
        "rinstrum-net",
        {},
        b"9F050028:   1.20 t\r\n",
        {"kind": "ack", "tare": D("1.20"), "unit": "t"},
    ),
    ("rinstrum-net", {}, b"9F050027: 120.5 kg\r\n", {"weight": D("120.5"), "mode": "net"}),
    (
        "rinstrum-net",
        {},
        b"\x129F110150:07/01/2030 17:29\r\n",
        {"kind": "ack", "text": "07/01/2030 17:29"},
    ),
    ("rinstrum-net", {}, b"\x019F050026:  15.71 t GEA24\x04", ChecksumError),
    ("rinstrum-net", {"crc": "required"}, b"9F050026:  15.71 t G\r\n", FrameError),
    ("rinstrum-net", {"address": "3"}, b"9F050026:  15.71 t G\r\n", FrameError),
    ("rinstrum-net", {"address": "31"}, b"9F050026:  15.71 t G\r\n", {"weight": D("15.71")}),
    ("rinstrum-net", {}, b"9F050026:  --.-- t G\r\n", FrameError),
    # rice-lake
    ("rice-lake", {}, b"\x02-    120KGO\r\n", {"condition": "underload", "weight": None}),
    ("rice-lake", {}, b"\x02     120KGO\r\n", {"condition": "overload"}),
    ("rice-lake", {}, b"\x02     120KGI\r", {"condition": "error"}),
    (
        "rice-lake",
        {},
        b"\x02   12.34TG \r",
        {"weight": D("12.34"), "unit": None, "extra.unit_text": "T"},
    ),
    # cardinal
    ("cardinal", {}, b"\r+999999o kg g  \x03", {"condition": "overload", "weight": None}),
    (
        "cardinal",
        {},
        b"\r+001234  tn g  \x03",
        {"weight": D("1234"), "unit": None, "extra.unit_text": "tn"},
    ),
    ("cardinal", {}, b"\r+0012345 kg g  \x03", FrameError),
    (
        "cardinal",
        {"format": "sb400"},
        b"   12.34KGNCZ\r",
        {"weight": D("12.34"), "mode": "net", "extra.center_of_zero": True},
    ),
    ("cardinal", {"format": "sb400"}, b"   12.34KGGee\r", {"condition": "error"}),
    ("cardinal", {"format": "sb400"}, b"-  12.34T G  \r\n", {"weight": D("-12.34"), "unit": "t"}),
    # weightronix
    (
        "weightronix",
        {},
        b" G" + b" " * 10 + b"\r\n",
        {"condition": "error", "extra.out_of_range": True},
    ),
    ("weightronix", {}, b"0N-0012.5 lb\r\n", {"weight": D("-12.5"), "unit": "lb", "mode": "net"}),
    ("weightronix", {}, b" G+0123456 kg\r\n", FrameError),
    # dini-argeo
    ("dini-argeo", {"address": "01"}, b"02ST,GS,     0.0,kg\r\n", FrameError),
    (
        "dini-argeo",
        {"address": "02"},
        b"02ST,GS,     1.0,kg\r\n",
        {"weight": D("1.0"), "extra.address": "02"},
    ),
    ("dini-argeo", {"address": "01"}, b"ST,GS,     0.0,kg\r\n", FrameError),
    ("dini-argeo", {}, b"UL,GS,  -999.9,kg\r\n", {"condition": "underload", "weight": None}),
    ("dini-argeo", {}, b"ST,VL,  1234.5,mv\r\n", {"kind": "status", "extra.diagnostic": "VL"}),
    ("dini-argeo", {}, b"ST,GS,-  125.5,kg\r\n", {"weight": D("-125.5")}),
    ("dini-argeo", {}, b"ST,GS, 12 34.5,kg\r\n", FrameError),
    # bilanciai
    (
        "bilanciai",
        {"decimals": "2", "unit": "kg"},
        b"$012340\r",
        {"weight": D("123.40"), "unit": "kg"},
    ),
    ("bilanciai", {"decimals": "-1"}, b"$112345\r", {"weight": D("123450"), "stable": False}),
    ("bilanciai", {}, b"$312345\r", {"condition": "error", "weight": None}),
    (
        "bilanciai",
        {},
        b"$   1234.5     100.0 kg 0200\r\n",
        {"weight": D("1234.5"), "tare": D("100.0"), "stable": True, "mode": "gross"},
    ),
    ("bilanciai", {}, b"$   1234.5     100.0 kg 0201\r\n", {"mode": "gross"}),
    ("bilanciai", {}, b"$   1234.5     100.0 kg 0210\r\n", {"mode": "net"}),
    ("bilanciai", {}, b"$   1234.5     100.0 kg 0600\r\n", {"condition": "overload"}),
    ("bilanciai", {}, b"$   1234.5     100.0 kg 0240\r\n", {"condition": "error"}),
    ("bilanciai", {}, b"$   1234.5     100.0 kg 0204\r\n", {"condition": "error"}),
    ("bilanciai", {}, b"$   1234.5     100.0 kg 0000\r\n", {"stable": False}),
    # cas
    ("cas", {}, b"OL,GS,1\xa4,  9999.9 kg\r\n", {"condition": "overload", "weight": None}),
    ("cas", {}, b"ST,GS    59.6kg\r\n", {"weight": D("59.6"), "unit": "kg"}),
    ("cas", {}, b"US,NT,-  13.50kg\r\n", {"weight": D("-13.50"), "stable": False, "mode": "net"}),
    ("cas", {}, b"ST,GS,1\x64,000013.5 kg\r\n", FrameError),  # lamp byte without bit 7
    # and-ad
    ("and-ad", {}, b"QT,+00000012PCS\r\n", {"kind": "status", "extra.count": D("12")}),
    ("and-ad", {}, b"OL,+9999999E+19\r\n", {"condition": "overload", "weight": None}),
    ("and-ad", {}, b"OL,-9999999E+19\r\n", {"condition": "underload"}),
    ("and-ad", {}, b"US,-00183.96  g\r\n", {"weight": D("-183.96"), "stable": False}),
    ("and-ad", {}, b"ST,+00081.72 ct\r\n", {"unit": None, "extra.unit_text": "ct"}),
    ("and-ad", {}, b"ST,+000E1.72  g\r\n", FrameError),
    # and-ad, indicators (AD-4400 series): a second header GS / NT / TR
    (
        "and-ad",
        {},
        b"ST,GS,+0004.876 kg\r\n",
        {"kind": "weight", "weight": D("4.876"), "unit": "kg", "stable": True, "mode": "gross"},
    ),
    ("and-ad", {}, b"US,NT,+0012.340 kg\r\n", {"mode": "net", "stable": False}),
    (
        "and-ad",
        {},
        b"ST,TR,+0001.500 kg\r\n",
        {"kind": "status", "weight": None, "tare": D("1.500"), "unit": "kg", "text": "tare"},
    ),
    ("and-ad", {}, b"OL,NT,+9999999E+19\r\n", {"condition": "overload", "mode": "net"}),
    ("and-ad", {}, b"OL,GS,-9999999E+19\r\n", {"condition": "underload", "weight": None}),
    ("and-ad", {}, b"OL,GS,            \r\n", {"condition": "overload", "weight": None}),
    ("and-ad", {}, b"ST,GS,+12345.00  t\r\n", {"weight": D("12345.00"), "unit": "t"}),
    ("and-ad", {}, b"QT,GS,+00000012PCS\r\n", {"kind": "status", "extra.count": D("12")}),
    ("and-ad", {}, b"ST,XX,+0004.876 kg\r\n", FrameError),  # unknown second header
    ("and-ad", {}, b"ST,GS,+004.876 kg\r\n", FrameError),  # data one character short
    ("and-ad", {}, b"ST,GS,+00--.--- kg\r\n", FrameError),  # never 0 kg
    ("and-ad", {}, b"ST,GS,+0004.876 kg\r", FrameError),  # CR LF, not CR
    # xk3190-a9
    ("xk3190-a9", {}, b"=0003.000", ProfileError),  # digit order must be configured
    ("xk3190-a9", {}, b"\x02+002000" + b"21b\x03", ChecksumError),  # lower-case hex
    (
        "xk3190-a9",
        {"unit": "t"},
        b"\x02+9999994" + b"1F\x03",
        {"weight": D("99.9999"), "unit": "t"},
    ),
    ("xk3190-a9", {"digit_order": "msb_first"}, b"=00-3.000", FrameError),
    ("xk3190-a9", {}, b"\x02+0020005" + b"1C\x03", FrameError),  # 5 decimals: not 0-4
    # xk3190-a12e
    ("xk3190-a12e", {}, b"         OL23\r\n", {"condition": "overload"}),
    ("xk3190-a12e", {}, b"WG004.139kg3E\r\n", ChecksumError),
    ("xk3190-a12e", {}, b"WG004.139kg\r\n", FrameError),  # manual form needs its checksum
    ("xk3190-a12e", {"checksum": "optional"}, b"WG004.139kg\r\n", {"weight": D("4.139")}),
    ("xk3190-a12e", {"checksum": "required"}, b"wn 0002.02kg\r\n", FrameError),
    ("xk3190-a12e", {}, b"WN-01.250kg20\r\n", {"weight": D("-1.250"), "mode": "net"}),
    # ob350
    ("ob350", {}, b"NET 2160 kg\r\n", {"weight": D("2160"), "unit": "kg", "mode": "net"}),
    ("ob350", {}, b"\x02N   15000 kg\x03", {"weight": D("15000"), "unit": "kg"}),
    ("ob350", {}, b"\x02N-   1500 kg\x03", {"weight": D("-1500")}),
    ("ob350", {}, b"\x02   15000M\x03", {"weight": D("15000"), "stable": False}),
    ("ob350", {}, b"\x02   15000O\x03", {"condition": "overload"}),
    ("ob350", {"unit": "kg"}, b"\x02   15000N\x03", {"unit": "kg", "stable": None}),
    (
        "ob350",
        {"format": "binary"},
        b"\x01\x00\n\x81\xbe\x01\x01\x00\x01\x00\x00HX\xed",
        ChecksumError,
    ),
    (
        "ob350",
        {},
        ob350.encode_format6(-120, 25000, when=datetime(2024, 5, 1, 7, 30)),
        {"weight": D("-120"), "extra.device_time": "2024-05-01T07:30:00"},
    ),
    (
        "ob350",
        {},
        b"$GPVWS,01,+,15000,25000,15500,26000,NS0,GP0,164100,310210*65\r\n",
        FrameError,
    ),  # 31 February
    # right-weigh
    ("right-weigh", {}, b"$OAWTS*5E\r\n", {"kind": "status", "extra.checksum_ok": True}),
    ("right-weigh", {}, b"$OAWTS*01\r\n", ChecksumError),
    ("right-weigh", {}, b"$RWAWT,Drive,11600,11111111*10\r\n", ChecksumError),
    ("right-weigh", {}, nmea0183.encode_sentence("RWXYZ,1,2"), FrameError),
    # nmea0183
    (
        "nmea0183",
        {},
        b"$GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E*68\r\n",
        {
            "kind": "position",
            "lat": D("49.27416667"),
            "lon": D("-123.18533333"),
            "time": datetime(1994, 11, 19, 22, 54, 46, tzinfo=UTC),
            "speed_kmh": D("0.9260"),
            "course": D("54.7"),
        },
    ),
    (
        "nmea0183",
        {},
        nmea0183.encode_sentence("GNRMC,083559.00,A,5222.1234,N,00454.5678,E,0.004,,010524,,,A,V"),
        {
            "lat": D("52.36872333"),
            "lon": D("4.90946333"),
            "time": datetime(2024, 5, 1, 8, 35, 59, tzinfo=UTC),
            "course": None,
        },
    ),
    (
        "nmea0183",
        {},
        nmea0183.encode_sentence("GPRMC,225446,V,,,,,,,191194,,"),
        {"kind": "position", "condition": "error", "lat": None},
    ),
    (
        "nmea0183",
        {},
        nmea0183.encode_sentence("GPGGA,184353.07,,,,,0,00,,,M,,M,,"),
        {"condition": "error", "lat": None, "satellites": 0},
    ),
    (
        "nmea0183",
        {},
        b"$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000\r\n",
        FrameError,
    ),
    (
        "nmea0183",
        {"checksum": "optional"},
        b"$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000\r\n",
        {"lat": D("-19.48408333"), "extra.checksum_ok": None},
    ),
    (
        "nmea0183",
        {},
        b"$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6d\r\n",
        {"lat": D("-19.48408333")},
    ),
    (
        "nmea0183",
        {},
        b"$GPGGA,184353.07,1929.045,S,02410.506,E,1,04,2.6,100.00,M,-33.9,M,,0000*6E\r\n",
        ChecksumError,
    ),
    (
        "nmea0183",
        {},
        nmea0183.encode_sentence("GPGGA,184353,1969.045,S,02410.506,E,1,04,,,M,,M,,"),
        FrameError,
    ),  # 69 minutes
    (
        "nmea0183",
        {},
        nmea0183.encode_sentence("GPGGA,184353,9100.000,S,02410.506,E,1,04,,,M,,M,,"),
        FrameError,
    ),  # 91 degrees
    (
        "nmea0183",
        {},
        nmea0183.encode_sentence("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K"),
        {"kind": "status", "text": "GPVTG"},
    ),
    (
        "nmea0183",
        {},
        b"$GPVWS,01,+,15000,25000,15500,26000,NS0,GP0,164100,280210*68\r\n",
        {"kind": "status", "extra.sentence": "VWS"},
    ),
    # rfid
    (
        "rfid-fdxb",
        {},
        rfid_fdxb.encode_frame(982, 1088420, hdx=True),
        {"tag_id": "982000001088420", "extra.tag_type": "HDX"},
    ),
    ("rfid-fdxb", {}, rfid_fdxb.encode_frame(999, 1234567)[:28] + b"\x00\x03", ChecksumError),
    ("rfid-fdxb", {}, rfid_fdxb.encode_frame(1000, 1), FrameError),
    ("rfid-allflex", {}, b"LA 982 000001088420\r\n", {"tag_id": "982000001088420"}),
    (
        "rfid-allflex",
        {},
        b"LR 0006 0000000018514348\r\n",
        {"tag_id": "00060000000018514348", "extra.tag_type": "industrial"},
    ),
    ("rfid-allflex", {}, b"LA 982 00000108842\r\n", FrameError),
    (
        "rfid-em4100",
        {},
        bytes.fromhex("02 30 30 30 34 31 34 43 44 37 45 41 33 03"),
        {"tag_id": "000414CD7E"},
    ),
    ("rfid-em4100", {}, bytes.fromhex("02 30 30 30 34 31 34 43 44 37 45 41 34 03"), ChecksumError),
]


@pytest.mark.parametrize(
    ("name", "options", "frame", "expected"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_parse(name: str, options: dict[str, str], frame: bytes, expected: Any) -> None:
    profile = get_profile(name, **options)
    if isinstance(expected, type):
        with pytest.raises(expected):
            profile.parse(frame)
        return
    reading = profile.parse(frame)
    check_invariants(reading, profile)
    for key, want in expected.items():
        got = reading.extra.get(key[6:]) if key.startswith("extra.") else getattr(reading, key)
        assert got == want, (key, got, want)
        if isinstance(want, Decimal):
            assert str(got) == str(want), "the displayed precision is kept"


# ---------------------------------------------------------------------------------------------
# Registry contract


def test_registry_names_in_order() -> None:
    assert names() == EXPECTED_NAMES


def test_unknown_profile() -> None:
    with pytest.raises(UnknownProfile, match="no profile named"):
        get_profile("toledo")


@pytest.mark.parametrize("cls", PROFILES, ids=lambda p: p.name)
def test_profile_contract(cls: Any) -> None:
    assert cls.description and isinstance(cls.serial, SerialSettings)
    assert cls.mode in ("continuous", "poll")
    assert (cls.poll_request is not None) == (cls.mode == "poll")
    assert cls.kinds <= {"weight", "position", "tag", "status", "ack", "error"}
    assert isinstance(cls.option_names(), tuple)
    with pytest.raises(ProfileError):
        cls(no_such_option="1")
    profile = cls()
    assert profile.framer() is not profile.framer(), "a fresh framer per port"


POLL_REQUESTS = {
    "mt-sics": b"SI\r\n",
    "toledo-8217": b"W",
    "sma": b"\nW\r",
    "nci": b"W\r",
    "rinstrum-net": rinstrum_net.build_request(0x0026),
}


def test_poll_requests() -> None:
    assert {p.name: p.poll_request for p in PROFILES if p.mode == "poll"} == POLL_REQUESTS


def test_formats_without_a_motion_flag() -> None:
    without = {p.name for p in PROFILES if not p.has_stability_flag}
    assert without == {
        "rinstrum-net",
        "weightronix",
        "xk3190-a9",
        "xk3190-a12e",
        "ob350",
        "right-weigh",
    }
    assert get_profile("rinstrum-auto", format="D").has_stability_flag is False
    assert get_profile("rinstrum-auto").has_stability_flag is True


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("toledo-continuous", {"checksum": "sometimes"}),
        ("xk3190-a9", {"unit": "stone"}),
        ("bilanciai", {"decimals": "x"}),
        ("bilanciai", {"decimals": "9"}),
        ("dini-argeo", {"address": "1"}),
        ("rinstrum-net", {"address": "32"}),
        ("ob350", {"format": "7"}),
        ("cardinal", {"format": "sb-400"}),
    ],
)
def test_bad_options_are_rejected(name: str, options: dict[str, str]) -> None:
    with pytest.raises(ProfileError):
        get_profile(name, **options)


# ---------------------------------------------------------------------------------------------
# base helpers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("   100.00", "100.00"),
        ("-  12.5", "-12.5"),
        ("+  4.876", "4.876"),
        ("000013.5", "13.5"),
        ("12.", "12"),
        (".5", "0.5"),
        (b"  -0", "0"),
    ],
)
def test_parse_decimal(text: str | bytes, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "-", ".", "1 2", "1.2.3", "--.--", "~~~~", "1e5", "0x10", "١٢", "+-1", "12-"],
)
def test_parse_decimal_rejects(text: str) -> None:
    with pytest.raises(FrameError):
        parse_decimal(text)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("kg", "kg"),
        ("KG", "kg"),
        (" K", "kg"),
        ("lb ", "lb"),
        ("L", "lb"),
        ("g  ", "g"),
        ("t", "t"),
        ("tn", None),
        ("ton", None),
        ("oz", None),
        ("", None),
    ],
)
def test_known_unit(text: str, unit: str | None) -> None:
    assert known_unit(text) == unit
