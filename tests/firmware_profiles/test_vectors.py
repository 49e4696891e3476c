"""One test per line of every file in the shared ``reference/vectors`` folder, and of the
vectors added in this repository (``tests/firmware_profiles/vectors/``, same columns: frames
met after the shared folder was written, each with its source).

Each vector id maps to a profile (and options) and to what the vector must become in our
normalized fields. The vector's own expected JSON is also translated where its keys have a
normalized meaning (value, unit, motion, net, tare, lat/lon...) and checked as a second,
independent reading of the source.

Vectors that must be *rejected*, each with its reason:

* ``sma_request_W``, ``rin_net_read_gross_request``, ``rin_net_crc_framed_request``: bytes
  the host sends, not replies. They must not decode as readings (FrameError), and must equal
  what the profile module builds as the request.
* ``ob350_gpvws_manual_placeholder``: the manual prints ``*XX`` where the checksum goes; it
  is not a checksum, so the sentence is rejected (ChecksumError, got ``XX``).
* ``epelsa_initial``, ``epelsa_stable``, ``epelsa_transition``, ``qztray_byte_by_byte``:
  Epelsa is not one of our profiles. They share toledo-8217's STX..CR framing, so they are
  fed to it: one frame each (also byte by byte), trailing ETX discarded, and rejected
  (FrameError), never misread as a weight.

Special: ``a12_lowercase_variant`` was copied from a code comment without its line end: through
the framer it is a truncated tail (nothing emitted, nothing raised); ``parse`` on the bytes
decodes it. ``8217_probe_echo``: the echoed ``hello`` follows the frame unframed and is
discarded.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from firmware_profiles import (
    ChecksumError,
    FrameError,
    ProfileError,
    Reading,
    get_profile,
    rinstrum_net,
    sma,
)
from tests.firmware_profiles.support import check_invariants, parse_all, run, shared_vectors_dir

pytestmark = pytest.mark.unit

D = Decimal


@dataclass(frozen=True)
class Vector:
    id: str
    provenance: str
    data: bytes
    hex: str
    expected: dict[str, Any]
    source: str
    file: str


def load_vectors(directory: Path) -> list[Vector]:
    out = []
    for path in sorted(directory.glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.startswith("#") or "\t" not in line:
                continue  # README.txt and header lines
            vid, provenance, literal, hex_, expected, source = line.split("\t")
            data = ast.literal_eval(literal)
            out.append(Vector(vid, provenance, data, hex_, json.loads(expected), source, path.name))
    return out


@dataclass(frozen=True)
class Case:
    profile: str
    options: dict[str, str] = field(default_factory=dict)
    expect: dict[str, Any] = field(default_factory=dict)
    """Normalized fields of the one reading the vector decodes to."""
    extra: dict[str, Any] = field(default_factory=dict)
    """A subset of ``reading.extra``."""
    rejects: type[ProfileError] | None = None
    request: bytes | None = None
    """For host-to-scale vectors: the request as the profile module builds it."""
    framed: bool = True
    discarded: int = 0


def W(weight: Any, unit: Any, **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": "weight",
        "weight": None if weight is None else D(weight),
        "unit": unit,
        "condition": "ok",
    }
    out.update(kw)
    return out


CASES: dict[str, Case] = {
    # toledo_continuous.txt
    "tc_gross_stable_kg_cs": Case(
        "toledo-continuous",
        expect=W("12340", "kg", stable=True, mode="gross", tare=D(0)),
        extra={"increment": 2, "decimals": 0, "checksum_ok": True},
    ),
    "tc_out_of_range_cs": Case(
        "toledo-continuous",
        expect=W(None, "kg", condition="overload", mode="gross"),
        extra={"checksum_ok": True},
    ),
    "tc_ind570_like_lb_net": Case(
        "toledo-continuous",
        expect=W("0.00", "lb", mode="net", tare=D("17.33"), stable=True),
        extra={"decimals": 2, "checksum_ok": None},
    ),
    "tc_short_zero_padded_cs": Case(
        "toledo-continuous", expect=W("12340", "kg", tare=None), extra={"checksum_ok": True}
    ),
    "tc_gross_as_read_8N1_from_7E1_device": Case(
        "toledo-continuous", expect=W("12340", "kg", stable=True, mode="gross", tare=D(0))
    ),
    "tc_dummy_zero_x10": Case("toledo-continuous", expect=W("12340", "kg")),
    # mt_sics.txt
    "sics_S_I": Case("mt-sics", expect=W(None, None, condition="error")),
    "sics_S_under": Case("mt-sics", expect=W(None, None, condition="underload")),
    "sics_ES": Case(
        "mt-sics",
        expect={"kind": "status", "condition": "error", "text": "syntax error"},
        extra={"error": "ES"},
    ),
    "sics_ET": Case(
        "mt-sics",
        expect={"kind": "status", "condition": "error", "text": "transmission error"},
        extra={"error": "ET"},
    ),
    "sics_EL": Case(
        "mt-sics",
        expect={"kind": "status", "condition": "error", "text": "logical error"},
        extra={"error": "EL"},
    ),
    "sics_SI_dynamic": Case("mt-sics", expect=W("1.250", "kg", stable=False, mode="net")),
    "sics_Z_ack": Case(
        "mt-sics", expect={"kind": "ack", "condition": "ok"}, extra={"command": "Z", "status": "A"}
    ),
    "sics_T_stable": Case(
        "mt-sics",
        expect={"kind": "ack", "tare": D("100.00"), "unit": "g"},
        extra={"command": "T", "status": "S"},
    ),
    "sics_at_reply": Case(
        "mt-sics",
        expect={"kind": "status", "text": "B207696838"},
        extra={"command": "I4", "more": False},
    ),
    "sics_I50_multi": Case(
        "mt-sics", expect={"kind": "status"}, extra={"command": "I50", "more": True}
    ),
    # toledo_8217.txt
    "8217_status_underzero": Case(
        "toledo-8217", expect=W(None, None, condition="underload"), extra={"flags": ["under_zero"]}
    ),
    "8217_probe_echo": Case(
        "toledo-8217", expect={"kind": "ack"}, extra={"echo": True}, discarded=len(b"hello")
    ),
    "8217_status_ok": Case(
        "toledo-8217", expect={"kind": "status", "stable": True}, extra={"flags": []}
    ),
    "8217_status_over_capacity": Case(
        "toledo-8217",
        expect=W(None, None, condition="overload"),
        extra={"flags": ["over_capacity"]},
    ),
    "8217_status_center_of_zero": Case(
        "toledo-8217",
        expect={"kind": "status", "stable": True},
        extra={"flags": ["center_of_zero"]},
    ),
    "8217_status_motion_center_of_zero": Case(
        "toledo-8217",
        expect={"kind": "status", "stable": False},
        extra={"flags": ["motion", "center_of_zero"]},
    ),
    "8217_status_net": Case(
        "toledo-8217", expect={"kind": "status", "mode": "net"}, extra={"flags": ["net"]}
    ),
    "8217_weight_kg": Case("toledo-8217", expect=W("1.250", "kg", mode="gross")),
    "8217_weight_lb": Case("toledo-8217", expect=W("2.75", "lb", mode="gross")),
    # sma.txt
    "sma_W_gross_lb": Case(
        "sma",
        expect=W("5.025", "lb", stable=True, mode="gross"),
        extra={"range": 1, "high_resolution": False},
    ),
    "sma_H_hires": Case(
        "sma", expect=W("5.0025", "lb", mode="gross"), extra={"high_resolution": True}
    ),
    "sma_Z_center_zero": Case("sma", expect=W("0.000", "lb"), extra={"center_of_zero": True}),
    "sma_error_dashes": Case("sma", expect=W(None, "kg", condition="error")),
    "sma_request_W": Case("sma", rejects=FrameError, request=sma.request("W")),
    # nci.txt
    "nci_weight_motion": Case(
        "nci", expect=W("1.25", "lb", stable=False), extra={"flags": ["motion"]}
    ),
    "nci_status_at_zero": Case(
        "nci", expect={"kind": "status", "condition": "ok"}, extra={"at_zero": True}
    ),
    "nci_unrecognized": Case(
        "nci", expect={"kind": "status", "condition": "error", "text": "unrecognized command"}
    ),
    # rinstrum.txt
    "rin_fmtA_net15000": Case(
        "rinstrum-auto",
        expect=W("15000", None, mode="net", stable=True),
        extra={"format": "A", "unit_text": ""},
    ),
    "rin_fmtA_net5045": Case("rinstrum-auto", expect=W("5045", None, mode="net")),
    "rin_fmtC_gross_stable": Case(
        "rinstrum-auto",
        expect=W("15000", "kg", mode="gross", stable=True),
        extra={"format": "C", "center_of_zero": False, "range": "-"},
    ),
    "rin_fmtC_motion_units_blank": Case(
        "rinstrum-auto", expect=W("15020", None, stable=False), extra={"unit_text": ""}
    ),
    "rin_net_read_gross_request": Case(
        "rinstrum-net", rejects=FrameError, request=rinstrum_net.build_request()
    ),
    "rin_net_crc_framed_request": Case(
        "rinstrum-net", rejects=FrameError, request=rinstrum_net.build_request(crc=True)
    ),
    "m4222_traffic_light_fmt1": Case(
        "rinstrum-auto", expect=W("15000", None, mode="gross"), extra={"lights": "red"}
    ),
    # ricelake_cardinal_weightronix.txt
    "rlws_net_motion_neg": Case("rice-lake", expect=W("-120", "kg", mode="net", stable=False)),
    "cardinal_stream_gross": Case("cardinal", expect=W("12340", "kg", mode="gross", stable=True)),
    "cardinal_stream_motion": Case("cardinal", expect=W("12360", "kg", stable=False)),
    "weightronix_stream_gross": Case(
        "weightronix", expect=W("12340", "kg", mode="gross", stable=None)
    ),
    # dini_bilanciai.txt
    "dini_std_unstable_net": Case("dini-argeo", expect=W("125.5", "kg", mode="net", stable=False)),
    "dini_overload": Case("dini-argeo", expect=W(None, "kg", condition="overload")),
    "bilanciai_cb_stable": Case(
        "bilanciai", expect=W("12340", None, stable=True), extra={"flag": "0"}
    ),
    # chinese_xk3190.txt
    "a9_tf0_negative": Case(
        "xk3190-a9",
        expect=W("-12340", None, stable=None),
        extra={"decimals": 0, "checksum_ok": True},
    ),
    "tf1_reversed_3_000": Case("xk3190-a9", {"digit_order": "lsb_first"}, expect=W("3.000", None)),
    "tf1_reversed_neg_1_00": Case(
        "xk3190-a9", {"digit_order": "lsb_first"}, expect=W("-1.00", None)
    ),
    "tf2_forward_3_000": Case("xk3190-a9", {"digit_order": "msb_first"}, expect=W("3.000", None)),
    "tf2_forward_neg_1_00": Case(
        "xk3190-a9", {"digit_order": "msb_first"}, expect=W("-1.00", None)
    ),
    "a12e_underload": Case(
        "xk3190-a12e", expect=W(None, None, condition="underload"), extra={"checksum_ok": True}
    ),
    "a12_lowercase_variant": Case("xk3190-a12e", expect=W("-0.1", "kg", mode="net"), framed=False),
    "heb_tw_captured": Case(
        "xk3190-a12e", expect=W("2.02", "kg", mode="net"), extra={"checksum_ok": None}
    ),
    # vectors/toledo_8217_motion.txt (this repository)
    "8217_status_motion": Case(
        "toledo-8217",
        expect={"kind": "status", "stable": False, "mode": "gross"},
        extra={"flags": ["motion"]},
    ),
    # vectors/rinstrum_format_b.txt (this repository)
    "rin_fmtB_net15000": Case(
        "rinstrum-auto",
        expect=W("15000", "kg", mode="net", stable=True),
        extra={"format": "B"},
    ),
    "rin_fmtB_motion_units_blank": Case(
        "rinstrum-auto",
        expect=W("15020", None, mode=None, stable=False),
        extra={"format": "B", "unit_text": ""},
    ),
    "rin_fmtB_gross_negative_t": Case(
        "rinstrum-auto", expect=W("-1.500", "t", mode="gross", stable=True)
    ),
    "rin_fmtB_overload": Case(
        "rinstrum-auto", expect=W(None, "kg", condition="overload"), extra={"format": "B"}
    ),
    # cas_and.txt
    "cas_22byte_gross_stable": Case(
        "cas",
        expect=W("13.5", "kg", mode="gross", stable=True),
        extra={"device_id": "1", "lamps": ["stable", "gross"]},
    ),
    "and_std_stable": Case("and-ad", expect=W("81.72", "g", stable=True)),
    # vectors/and_ad.txt (this repository): the indicators' double header
    "and_ind_gross_stable": Case(
        "and-ad",
        expect=W("4.876", "kg", stable=True, mode="gross"),
        extra={"header": "ST", "header2": "GS"},
    ),
    "and_ind_net_unstable_negative": Case(
        "and-ad", expect=W("-0.120", "kg", stable=False, mode="net"), extra={"header2": "NT"}
    ),
    "and_ind_tare": Case(
        "and-ad",
        expect={"kind": "status", "weight": None, "tare": D("1.500"), "unit": "kg", "stable": True},
        extra={"header2": "TR"},
    ),
    "and_ind_overload": Case(
        "and-ad",
        expect=W(None, None, condition="overload", mode="gross"),
        extra={"header": "OL", "header2": "GS"},
    ),
    # onboard_truck.txt
    "ob350_fmt4_18520kg": Case(
        "ob350",
        {"format": "binary"},
        expect=W("18520", None),
        extra={"counter": 0xBE, "checksum_ok": True},
    ),
    "ob350_gpvws_manual_placeholder": Case("ob350", rejects=ChecksumError),
    "ob350_gpvws_with_computed_cs": Case(
        "ob350",
        expect=W("15000", None, mode="net"),
        extra={"gvw": D(25000), "device_time": "2010-02-28T16:41:00", "checksum_ok": True},
    ),
    "rightweigh_OAWTS*00": Case(
        "right-weigh", expect={"kind": "status", "text": "start"}, extra={"checksum_exempt": True}
    ),
    "rightweigh_RWAWT_EstSteer": Case(
        "right-weigh",
        expect=W("3400", "lb", stable=None),
        extra={"axle": "EstSteer", "gauge_serial": "11111111"},
    ),
    "rightweigh_RWAWT_Drive": Case("right-weigh", expect=W("11600", "lb"), extra={"axle": "Drive"}),
    "rightweigh_RWAWT_Cal1": Case(
        "right-weigh", expect=W("10000", "lb"), extra={"axle": "Cal 1", "gauge_serial": "22222222"}
    ),
    "rightweigh_OAWTE*00": Case(
        "right-weigh", expect={"kind": "status", "text": "end"}, extra={"checksum_exempt": True}
    ),
    # nmea0183.txt
    "gga_pynmea2": Case(
        "nmea0183",
        expect={
            "kind": "position",
            "lat": D("-19.48408333"),
            "lon": D("24.1751"),
            "satellites": 4,
            "time": None,
        },
        extra={"fix_quality": 1, "utc_time": "18:43:53.07"},
    ),
    # rfid.txt
    "fdxb_wl134_999_1234567": Case(
        "rfid-fdxb",
        expect={"kind": "tag", "tag_id": "999000001234567"},
        extra={"animal": True, "data_block": False, "tag_type": "FDX-B"},
    ),
    "allflex_tiris_s2000": Case(
        "rfid-allflex",
        expect={"kind": "tag", "tag_id": "982000001088420"},
        extra={"reserved": "00000", "data_block": False},
    ),
    # misc_pos.txt: Epelsa, not a profile of ours; see the module docstring
    "epelsa_initial": Case("toledo-8217", rejects=FrameError, discarded=1),
    "epelsa_stable": Case("toledo-8217", rejects=FrameError, discarded=1),
    "epelsa_transition": Case("toledo-8217", rejects=FrameError, discarded=1),
    "qztray_byte_by_byte": Case("toledo-8217", rejects=FrameError, discarded=1),
}


# ---------------------------------------------------------------------------------------------
# The vector's own expected JSON, translated where a key has a normalized meaning.

MODES = {"G": "gross", "g": "gross", "GS": "gross", "N": "net", "n": "net", "NT": "net"}


def _nmea_degrees(text: str) -> Decimal:
    hemisphere, number = text[-1], text[:-1]
    width = 2 if hemisphere in "NS" else 3
    value = int(number[:width]) + Decimal(number[width:]) / 60
    value = value.quantize(Decimal("1e-8"))
    return -value if hemisphere in "SW" else value


def translate(expected: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("value", "weight"):
        if key in expected:
            v = expected[key]
            out["weight"] = None if v is None else D(str(v))
    if "unit" in expected:
        out["unit"] = expected["unit"] and expected["unit"].lower()
    if "motion" in expected:
        out["stable"] = not expected["motion"]
    if "stable" in expected:
        out["stable"] = expected["stable"]
    if "net" in expected:
        out["mode"] = "net" if expected["net"] else "gross"
    if expected.get("mode") in MODES:
        out["mode"] = MODES[expected["mode"]]
    if "tare" in expected:
        out["tare"] = D(str(expected["tare"]))
    if expected.get("oor"):
        out["condition"] = ("overload", "underload")
    if expected.get("underload"):
        out["condition"] = "underload"
    if "sats" in expected:
        out["satellites"] = expected["sats"]
    if "lat" in expected:
        out["lat"] = _nmea_degrees(expected["lat"])
        out["lon"] = _nmea_degrees(expected["lon"])
    if "country" in expected and "id" in expected:
        out["tag_id"] = f"{expected['country']:03d}{expected['id']:012d}"
    return out


# ---------------------------------------------------------------------------------------------

_DIR = shared_vectors_dir()
LOCAL_DIR = Path(__file__).with_name("vectors")
VECTORS = load_vectors(LOCAL_DIR) + (load_vectors(_DIR) if _DIR.is_dir() else [])


def test_every_vector_has_a_case(vectors_dir: Path) -> None:
    ids = [v.id for v in load_vectors(vectors_dir) + load_vectors(LOCAL_DIR)]
    assert len(ids) == len(set(ids)), "duplicate vector id"
    assert sorted(ids) == sorted(CASES), "vector ids and the CASES table differ"


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_vector(vector: Vector) -> None:
    """A missing shared folder is reported by ``test_every_vector_has_a_case``."""
    assert vector.data == bytes.fromhex(vector.hex), "literal and hex columns differ"
    case = CASES[vector.id]
    profile = get_profile(case.profile, **case.options)

    if case.request is not None:
        assert vector.data == case.request
        if profile.poll_request is not None and vector.id != "rin_net_crc_framed_request":
            assert vector.data == profile.poll_request

    framer = profile.framer()
    if not case.framed:
        # truncated tail: nothing emitted, nothing raised; parse() takes the bytes as they are
        assert run(profile, [vector.data], framer) == []
        items: list[Reading | ProfileError] = parse_all(profile, [vector.data])
    else:
        chunks = (
            [vector.data[i : i + 1] for i in range(len(vector.data))]
            if "byte_by_byte" in vector.id
            else [vector.data]
        )
        frames = run(profile, chunks, framer)
        assert len(frames) == 1, frames
        assert framer.discarded == case.discarded
        items = parse_all(profile, frames)
        # decode() (what the CLI and the agent call) agrees with framer + parse
        decoded = list(profile.decode(vector.data))
        assert [type(i) for i in decoded] == [type(i) for i in items]
        assert [i for i in decoded if isinstance(i, Reading)] == [
            i for i in items if isinstance(i, Reading)
        ]

    [item] = items
    if case.rejects is not None:
        assert isinstance(item, case.rejects), item
        return
    assert isinstance(item, Reading), item
    check_invariants(item, profile)
    for key, want in case.expect.items():
        assert getattr(item, key) == want, (key, getattr(item, key), want)
    for key, want in case.extra.items():
        assert item.extra.get(key) == want, (key, item.extra.get(key), want)
    for key, want in translate(vector.expected).items():
        got = getattr(item, key)
        assert got in want if isinstance(want, tuple) else got == want, (key, got, want)
