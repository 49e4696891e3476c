"""``python -m firmware_profiles list`` and ``decode``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from firmware_profiles.__main__ import main
from tests.firmware_profiles.support import EXPECTED_NAMES, REPO, SAMPLES, Sample

pytestmark = pytest.mark.unit

TOLEDO_HEX = "02 32 30 20 20 31 32 33 34 30 20 20 20 20 20 30 0d 05"
XK_GOOD = "02 2b 30 30 32 30 30 30 32 31 42 03"  # +20.00, XOR 1B
XK_BAD = "02 2b 30 30 32 30 30 30 32 31 43 03"  # same frame, checksum 1C


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_list_prints_every_profile_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = lines(capsys)
    assert [line.split()[0] for line in out] == EXPECTED_NAMES
    assert len(out) == 22


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    rows = [json.loads(line) for line in lines(capsys)]
    assert [r["name"] for r in rows] == EXPECTED_NAMES
    assert all(r["mode"] in ("continuous", "poll") and r["serial"]["baudrate"] for r in rows)


def test_decode_valid_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--profile", "toledo-continuous", "--hex", TOLEDO_HEX]) == 0
    assert [json.loads(line) for line in lines(capsys)] == [
        {
            "kind": "weight",
            "weight": 12340,
            "unit": "kg",
            "stable": True,
            "mode": "gross",
            "tare": 0,
            "condition": "ok",
            "extra": {
                "increment": 2,
                "decimals": 0,
                "checksum_ok": True,
                "print_request": False,
                "expanded": False,
            },
        }
    ]


def test_decode_corrupt_frame_prints_the_checksum_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--profile", "xk3190-a9", "--hex", XK_BAD]) == 0
    assert [json.loads(line) for line in lines(capsys)] == [
        {"kind": "error", "error": "ChecksumError: expected 1B, got 1C"}
    ]


def test_decode_good_and_corrupt_frames_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "decode",
                "--profile",
                "xk3190-a9",
                "--option",
                "unit=kg",
                "--hex",
                f"{XK_GOOD} {XK_BAD} {XK_GOOD}",
            ]
        )
        == 0
    )
    out = [json.loads(line) for line in lines(capsys)]
    assert [o["kind"] for o in out] == ["weight", "error", "weight"]
    assert out[0]["weight"] == 20 and out[0]["unit"] == "kg" and out[0]["stable"] is None


def test_decode_with_option(capsys: pytest.CaptureFixture[str]) -> None:
    frame = b"=00.1000-".hex()
    assert (
        main(
            [
                "decode",
                "--profile",
                "xk3190-a9",
                "--hex",
                frame,
                "--option",
                "digit_order=lsb_first",
            ]
        )
        == 0
    )
    assert json.loads(lines(capsys)[0])["weight"] == -1


def test_decode_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = b"$RWAWT,Drive,11600,11111111*11\r\n$RWAWT,Drive,11600,11111111*12\r\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    assert main(["decode", "--profile", "right-weigh"]) == 0
    out = [json.loads(line) for line in lines(capsys)]
    assert out[0]["weight"] == 11600 and out[0]["unit"] == "lb"
    assert out[1] == {"kind": "error", "error": "ChecksumError: expected 11, got 12"}


@pytest.mark.parametrize(
    "argv",
    [
        ["decode", "--profile", "no-such-scale", "--hex", "00"],
        ["decode", "--profile", "sma", "--option", "colour=blue", "--hex", "00"],
        ["decode", "--profile", "xk3190-a9", "--option", "digit_order=sideways", "--hex", "00"],
        ["decode", "--profile", "sma", "--hex", "zz"],
    ],
)
def test_decode_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error:")


def test_module_entry_point_with_stdin() -> None:
    """The real ``python -m firmware_profiles`` process, raw bytes on stdin."""
    proc = subprocess.run(
        [sys.executable, "-m", "firmware_profiles", "decode", "--profile", "rfid-em4100"],
        input=b"junk\x0200041" + b"4CD7EA3\x03\x020004",
        capture_output=True,
        cwd=REPO,
        timeout=60,
        check=True,
    )
    assert [json.loads(line) for line in proc.stdout.decode().splitlines()] == [
        {"kind": "tag", "tag_id": "000414CD7E"}
    ]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
def test_decode_hex_for_every_profile(sample: Sample, capsys: pytest.CaptureFixture[str]) -> None:
    options = [arg for k, v in sample.options.items() for arg in ("--option", f"{k}={v}")]
    argv = ["decode", "--profile", sample.profile, "--hex", sample.stream.hex(" "), *options]
    assert main(argv) == 0
    out = [json.loads(line) for line in lines(capsys)]
    profile = sample.make()
    assert out == [profile.parse(frame).to_json() for frame in sample.frames]


@pytest.mark.parametrize(
    "profile,hex_text,waiting",
    [
        ("toledo-8217", "02 3f 41", r"the terminator b'\r'"),  # a reply cut short
        ("rinstrum-auto", "00 ff 41 42", r"the start byte b'\x02'"),  # no frame start at all
        ("toledo-8217", "", r"the start byte b'\x02'"),  # nothing read
    ],
)
def test_decode_without_a_complete_frame_says_so_and_fails(
    profile: str, hex_text: str, waiting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["decode", "--profile", profile, "--hex", hex_text]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    n = len(bytes.fromhex(hex_text))
    assert captured.err.startswith(f"error: no complete {profile} frame in {n} byte(s) read")
    assert f"waiting for {waiting}" in captured.err


def test_decode_counts_garbage_and_held_back_bytes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--profile", "rinstrum-auto", "--hex", "00 ff 02 20 31"]) == 1
    err = capsys.readouterr().err
    assert "in 5 byte(s) read; 2 byte(s) skipped as garbage, 3 byte(s) left waiting" in err


def test_decode_notes_an_incomplete_last_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--profile", "toledo-8217", "--hex", "02 3f 40 0d 02 30 31"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert captured.err == (
        "note: the last 3 byte(s) did not complete a frame (waiting for the terminator b'\\r')\n"
    )


def test_module_entry_point_without_a_frame_exits_non_zero() -> None:
    """What a new user saw: empty output and exit status 0 for bytes that were no frame."""
    proc = subprocess.run(
        [sys.executable, "-m", "firmware_profiles", "decode", "--profile", "and-ad"],
        input=b"ST,GS,+0004.8",
        capture_output=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stdout == b""
    assert b"no complete and-ad frame in 13 byte(s) read" in proc.stderr


def test_decode_motion_status_prints_stable_false(capsys: pytest.CaptureFixture[str]) -> None:
    """Toledo 8217 sends ``?A`` instead of a weight while the scale moves: stable is false,
    not left out (which a JSON consumer reads as null, unknown)."""
    assert main(["decode", "--profile", "toledo-8217", "--hex", "02 3f 41 0d 02 3f 40 0d"]) == 0
    moving, still = (json.loads(line) for line in lines(capsys))
    assert moving["kind"] == "status" and moving["stable"] is False
    assert moving["extra"]["flags"] == ["motion"]
    assert still["stable"] is True


def test_decode_double_header_and_format_b(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--profile", "and-ad", "--hex", b"ST,GS,+0004.876 kg\r\n".hex()]) == 0
    assert (
        main(
            [
                "decode",
                "--profile",
                "rinstrum-auto",
                "--hex",
                "02 4e 20 20 20 31 35 30 30 30 20 6b 67 03",
            ]
        )
        == 0
    )
    and_ad, rinstrum = (json.loads(line) for line in lines(capsys))
    assert (and_ad["weight"], and_ad["unit"], and_ad["mode"]) == (4.876, "kg", "gross")
    assert (rinstrum["weight"], rinstrum["unit"], rinstrum["mode"]) == (15000, "kg", "net")
