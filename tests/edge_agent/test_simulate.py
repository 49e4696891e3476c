"""The indicator simulator: every weight profile's encoder, the poll responders, the line faults,
and the whole simulator read over loopback TCP by the agent's real ``PortReader``.

The TCP runs are real time: every profile's run happens at once in one module fixture, so the
file takes about as long as the slowest scenario. Poll profiles bound the speed: the
PortReader polls about five times a second (it waits in a 0.2 s read between polls), so a
2.5 s stable weighing at ``SPEED`` 4 still gets three polls or more.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from edge_agent.config import PortConfig
from edge_agent.ports import PortReader
from edge_agent.simulate import faults
from edge_agent.simulate.encoders import FORMATS, SIM_OPTIONS, encoder
from edge_agent.simulate.faults import Corrupter
from edge_agent.simulate.responders import RESPONDERS
from edge_agent.simulate.rfid import TAG_ENCODERS, tag_frame
from edge_agent.simulate.scenarios import (
    DEMO_TRUCKS,
    ScaleState,
    Tag,
    bin_lifts,
    expected_lifts,
    play,
    truck_in_out,
)
from edge_agent.simulate.server import SimConfig, Simulator
from firmware_profiles import PROFILES, ProfileError, Reading, get_profile, profile_class
from firmware_profiles.checksums import crc16_ccitt_false

pytestmark = pytest.mark.unit

WEIGHT_PROFILES = sorted(p.name for p in PROFILES if "weight" in p.kinds)
POLL_PROFILES = sorted(p.name for p in PROFILES if p.mode == "poll" and "weight" in p.kinds)
TRUCK_WEIGHTS = [32460, 14220, 18740, 9860]
SPEED = 4.0


def decode_stream(profile: str, data: bytes) -> tuple[list[Reading], list[ProfileError], int]:
    """Frame and parse as the PortReader does: (readings, errors, bytes discarded)."""
    p = get_profile(profile, **SIM_OPTIONS[profile])
    framer = p.framer()
    readings: list[Reading] = []
    errors: list[ProfileError] = []
    for frame in [*framer.feed(data), *framer.flush()]:
        try:
            readings.append(p.parse(frame))
        except ProfileError as exc:
            errors.append(exc)
    return readings, errors, framer.discarded


def decode_all(profile: str, data: bytes) -> list[Reading]:
    readings = list(get_profile(profile, **SIM_OPTIONS.get(profile, {})).decode(data))
    assert all(isinstance(r, Reading) for r in readings), readings
    return readings  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Encoders and tags, no I/O


def test_every_weight_profile_has_an_encoder_and_every_poll_profile_a_responder() -> None:
    assert sorted(FORMATS) == WEIGHT_PROFILES and len(WEIGHT_PROFILES) == 18
    assert sorted(RESPONDERS) == POLL_PROFILES
    assert POLL_PROFILES == ["mt-sics", "nci", "rinstrum-net", "sma", "toledo-8217"]
    assert sorted(SIM_OPTIONS) == WEIGHT_PROFILES


@pytest.mark.parametrize("profile", WEIGHT_PROFILES)
def test_encoder_output_decodes_with_the_sim_options(profile: str) -> None:
    fmt = FORMATS[profile]
    encode = encoder(profile)
    flag = get_profile(profile, **SIM_OPTIONS[profile]).has_stability_flag
    for weight in (0, 20, 14220, 32460, fmt.capacity):
        for motion in (False, True):
            got = decode_all(profile, encode(ScaleState(weight, motion)))
            weights = [r for r in got if r.kind == "weight"]
            if profile == "toledo-8217" and motion:
                assert [r.stable for r in got] == [False] and not weights  # status instead
                continue
            assert len(weights) == 1, (weight, motion, got)
            r = weights[0]
            assert r.weight == weight and r.unit == fmt.unit and r.condition == "ok"
            if profile == "toledo-8217":
                assert r.stable is True
            else:
                assert r.stable == ((not motion) if flag else None)
    with pytest.raises(ValueError, match="shows 0"):
        encode(ScaleState(fmt.capacity + 1, False))


def test_tags_read_back_as_each_reader_shows_them() -> None:
    tags = [Tag(999, 123456), Tag.from_em4100("000414CD7E"), Tag(0, (1 << 32) - 1)]
    for profile in TAG_ENCODERS:
        for tag in tags:
            got = decode_all(profile, tag_frame(profile, tag))
            assert [r.tag_id for r in got] == [tag.id_for(profile)]
    assert Tag.from_em4100("000414CD7E").id_for("rfid-em4100") == "000414CD7E"
    assert Tag(999, 123456).id_for("rfid-fdxb") == "999000000123456"


def test_bin_lifts_are_deterministic_and_within_range() -> None:
    a, b = expected_lifts(5), expected_lifts(5)
    assert a == b and a != expected_lifts(6) and len(a) == 5
    assert all(20 <= kg <= 180 and tag.startswith("999") and len(tag) == 15 for tag, kg in a)
    scenario = bin_lifts(5)
    assert [(lift.tag.id_for("rfid-fdxb"), lift.net_kg) for lift in scenario.lifts] == a
    assert scenario.rfid_profile == "rfid-fdxb" and truck_in_out().rfid_profile == "rfid-em4100"
    assert scenario.stable_weights() == [0, *(kg for _, kg in a)]


# ---------------------------------------------------------------------------------------------
# Poll responders, no I/O


def test_poll_profiles_have_a_request_the_simulator_answers() -> None:
    for name in POLL_PROFILES:
        request = profile_class(name).poll_request
        assert request is not None
        replies = RESPONDERS[name](encoder(name)).feed(
            request, ScaleState(DEMO_TRUCKS[0].gross_kg, False)
        )
        assert [r.weight for r in decode_all(name, b"".join(replies))] == [32460]


def test_mt_sics_answers_its_commands() -> None:
    r = RESPONDERS["mt-sics"](encoder("mt-sics"))
    moving, still = ScaleState(1240, True), ScaleState(1240, False)
    assert r.feed(b"SI\r\n", moving) == [b"S D       1240 kg\r\n"]
    assert r.feed(b"S\r\nS", moving) == [b"S I\r\n"]  # half a command waits for CR LF
    assert r.feed(b"\r\n", still) == [b"S S       1240 kg\r\n"]
    assert r.feed(b"Z\r\nT\r\n@\r\nXYZ\r\n", still) == [
        b"Z A\r\n",
        b"T I\r\n",
        b'I4 A "SIM0001"\r\n',
        b"ES\r\n",
    ]


def test_toledo_8217_answers_w_and_the_echo_probe() -> None:
    r = RESPONDERS["toledo-8217"](encoder("toledo-8217"))
    assert r.feed(b"W", ScaleState(1250, False)) == [b"\x021250.000\r"]
    assert r.feed(b"W", ScaleState(1250, True)) == [b"\x02?A\r"]
    assert b"".join(r.feed(b"Ehello", ScaleState(0, False))) == b"\x02E\rhello"  # Odoo's probe
    assert r.feed(b"FZ?", ScaleState(0, False)) == []


def test_sma_and_nci_answer_unknown_commands_with_their_error_reply() -> None:
    sma = RESPONDERS["sma"](encoder("sma"))
    assert sma.feed(b"\nX\r", ScaleState(0, False)) == [b"\n?\r"]
    about = decode_all("sma", b"".join(sma.feed(b"\nA\r", ScaleState(0, False))))
    assert [r.extra["field"] for r in about] == ["SMA", "MFG", "MOD", "SN_", "END"]
    nci = RESPONDERS["nci"](encoder("nci"))
    assert nci.feed(b"Q\r", ScaleState(0, False)) == [b"\n?\r\x03"]
    (status,) = decode_all("nci", b"".join(nci.feed(b"S\r", ScaleState(0, True))))
    assert status.kind == "status" and status.stable is False


def test_rinstrum_net_answers_plain_and_crc_requests() -> None:
    r = RESPONDERS["rinstrum-net"](encoder("rinstrum-net"))
    state = ScaleState(15000, False)
    (plain,) = r.feed(b"20050026:\r\n", state)
    assert decode_all("rinstrum-net", plain)[0].weight == 15000
    msg = b"20050027:"
    (crc,) = r.feed(b"\x01" + msg + f"{crc16_ccitt_false(msg):04X}".encode() + b"\x04", state)
    (reading,) = get_profile("rinstrum-net", crc="required").decode(crc)
    assert isinstance(reading, Reading)
    assert reading.weight == 15000 and reading.mode == "net" and reading.extra["checksum_ok"]
    (error,) = r.feed(b"20110150:\r\n", state)
    (status,) = decode_all("rinstrum-net", error)
    assert status.condition == "error" and status.extra["error_code"] == "A000"
    assert r.feed(b"00050026:\r\n9F050026:  1 kg G\r\n", state) == []  # no reply wanted


# ---------------------------------------------------------------------------------------------
# Line faults, no I/O


@pytest.mark.parametrize("profile", WEIGHT_PROFILES)
@pytest.mark.parametrize("seed", [1, 2])
def test_corrupt_streams_never_decode_to_a_weight_not_shown(profile: str, seed: int) -> None:
    """A whole truck-in-out stream with every third frame damaged, decoded in one go: every
    damaged frame meets its real neighbours, not only the copy the fault check uses."""
    fmt, encode = FORMATS[profile], encoder(profile)
    corrupter, rng = Corrupter(fmt), random.Random(seed)
    stream, shown, damaged = bytearray(), set(), 0
    for _t, state, _tag in play(truck_in_out(), rate_hz=10, rng=random.Random(seed)):
        frame = encode(state)
        shown.add(state.weight)
        if rng.random() < 0.3:
            frame = corrupter.corrupt(frame, rng)
            damaged += 1
        stream += frame
    readings, errors, discarded = decode_stream(profile, bytes(stream))
    weights = [r for r in readings if r.kind == "weight"]
    assert damaged > 50 and corrupter.dropped == 0
    assert all(r.condition == "ok" and r.weight in shown for r in weights)
    assert set(TRUCK_WEIGHTS) <= {int(r.weight) for r in weights if r.weight is not None}
    if profile != "ob350":  # its framer drops a frame that does not add up: discarded bytes
        assert errors, "no damaged frame reached parse"
    assert errors or discarded > 0


def test_the_fault_check_turns_down_a_flip_that_reads_as_another_weight() -> None:
    """Dini has no checksum: a flipped digit is another plausible weight. Forced to flip bits,
    the corrupter must refuse those candidates."""
    corrupter = Corrupter(FORMATS["dini-argeo"])
    corrupter.strategies = (faults.flip_bit,)
    frame, rng = encoder("dini-argeo")(ScaleState(32460, False)), random.Random(3)
    for _ in range(300):
        damaged = corrupter.corrupt(frame, rng)
        readings, _errors, _discarded = decode_stream("dini-argeo", damaged + frame)
        assert all(r.weight == 32460 for r in readings)
    assert corrupter.rejected > 0


# ---------------------------------------------------------------------------------------------
# Over TCP with the real PortReader


@dataclass
class Run:
    sim: Simulator
    thread: threading.Thread
    readers: list[PortReader] = field(default_factory=list)
    events: list[tuple[str, Reading]] = field(default_factory=list)
    """(port name, reading) in the order they arrived, both ports together."""

    @property
    def scale(self) -> PortReader:
        return self.readers[0]

    def weights(self) -> list[Reading]:
        return [r for port, r in self.events if port == "scale" and r.kind == "weight"]


def start(cfg: SimConfig, *, role: str = "weighbridge") -> Run:
    sim = Simulator(cfg)
    run = Run(sim, threading.Thread(target=sim.run, name=f"sim-{cfg.profile}", daemon=True))

    def sink(port: str, reading: Reading, _at: object) -> None:
        run.events.append((port, reading))

    ports = [("scale", sim.scale.url, cfg.profile, role, SIM_OPTIONS[cfg.profile])]
    if sim.rfid:
        ports.append(("tags", sim.rfid.url, sim.rfid_profile, "rfid", {}))
    for name, url, profile, port_role, options in ports:
        port = PortConfig(
            name=name,
            url=url,
            profile=profile,
            role=port_role,  # type: ignore[arg-type]
            options=options,
            poll_interval_s=0.05,
        )
        run.readers.append(PortReader(port, on_reading=sink, on_lost=lambda *_: None))
    for reader in run.readers:
        reader.start()
    run.thread.start()
    return run


def finish(runs: list[Run], *, within: float) -> None:
    deadline = time.monotonic() + within
    for run in runs:
        run.thread.join(max(0.0, deadline - time.monotonic()))
    time.sleep(0.5)  # the last frames on their way through the readers
    readers = [reader for run in runs for reader in run.readers]
    for reader in readers:  # all at once: each takes up to a read timeout to notice
        reader.stop()
    for reader in readers:
        reader.join(timeout=5)
    for run in runs:
        run.sim.close()
    assert all(run.sim.finished.is_set() for run in runs), "a scenario did not finish in time"


def sim(profile: str, scenario: str, **kw: Any) -> SimConfig:
    return SimConfig(
        profile=profile,
        listen="socket://127.0.0.1:0",
        scenario=scenario,
        speed=SPEED,
        cycles=1,
        **kw,
    )


BIN_SEED = 5
BIN_CASES = {  # weight profile -> (--rfid-profile, the reader profile that results)
    "ob350": (None, "rfid-fdxb"),
    "dini-argeo": ("rfid-em4100", "rfid-em4100"),
}
CORRUPT_CASES = ["toledo-continuous", "xk3190-a9", "dini-argeo", "mt-sics"]
"""A 7-bit sum, an XOR, no checksum (NUL bytes and cut frames), and a polled profile."""


@pytest.fixture(scope="module")
def runs() -> Iterator[dict[tuple[str, str], Run]]:
    """Every run of this file at once, keyed by (case, profile)."""
    out = {
        ("truck", name): start(sim(name, "truck-in-out", corrupt_rate=0.05, seed=11))
        for name in WEIGHT_PROFILES
    }
    for name in CORRUPT_CASES:
        rate = 0.6 if name in POLL_PROFILES else 0.3  # polls are few: damage more of them
        out["corrupt", name] = start(sim(name, "truck-in-out", corrupt_rate=rate, seed=4))
    for name, (rfid_option, _) in BIN_CASES.items():
        cfg = sim(
            name,
            "bin-lifts",
            rfid_listen="socket://127.0.0.1:0",
            rfid_profile=rfid_option,
            corrupt_rate=0.02,
            seed=BIN_SEED,
        )
        out["bins", name] = start(cfg, role="onboard")
    longest = max(run.sim.scenario.duration for run in out.values())
    finish(list(out.values()), within=longest / SPEED + 15)
    yield out


def assert_only_weights_shown(run: Run) -> None:
    """Every weight read is one the display showed, in the simulated unit; one flagged stable
    is one the scenario held still (never a swing, never a damaged frame)."""
    weights = run.weights()
    assert weights and all(r.condition == "ok" and r.weight is not None for r in weights)
    assert all(r.unit == run.sim.format.unit for r in weights)
    values = [r.weight for r in weights if r.weight is not None]
    assert all(v == int(v) for v in values)
    wrong = {int(v) for v in values} - run.sim.shown
    assert not wrong, f"weights the scale never showed: {sorted(wrong)}"
    flagged = {int(r.weight) for r in weights if r.stable and r.weight is not None}
    assert flagged <= set(run.sim.scenario.stable_weights())
    assert run.scale.state.frames_bad <= run.sim.frames_corrupted


@pytest.mark.parametrize("profile", WEIGHT_PROFILES)
def test_agent_reads_the_truck_weighings_from_the_simulator(
    runs: dict[tuple[str, str], Run], profile: str
) -> None:
    run = runs["truck", profile]
    assert_only_weights_shown(run)
    weights = run.weights()
    assert run.scale.state.frames_ok >= len(weights)
    settled = {int(r.weight) for r in weights if r.stable is not False and r.weight is not None}
    assert set(TRUCK_WEIGHTS) <= settled, sorted(set(TRUCK_WEIGHTS) - settled)


@pytest.mark.parametrize("profile", sorted(BIN_CASES))
def test_agent_reads_the_bin_lifts_with_their_tags(
    runs: dict[tuple[str, str], Run], profile: str
) -> None:
    run = runs["bins", profile]
    rfid_profile = BIN_CASES[profile][1]
    expected = expected_lifts(BIN_SEED, rfid_profile)
    assert run.sim.rfid_profile == rfid_profile
    assert run.sim.tags_sent == [tag for tag, _ in expected]
    assert_only_weights_shown(run)

    lifts: list[tuple[str, list[int]]] = []
    for port, r in run.events:
        if port == "tags":
            lifts.append((r.tag_id or "", []))
        elif r.kind == "weight" and r.weight and lifts:
            lifts[-1][1].append(int(r.weight))
    got = []
    for tag, shown in lifts:
        (weight, count), *_ = Counter(shown).most_common(1)
        assert count >= 5, (tag, shown)  # held still for a while, not a swing in passing
        got.append((tag, weight))
    assert got == expected


@pytest.mark.parametrize("profile", CORRUPT_CASES)
def test_corrupt_frames_are_counted_bad_and_never_become_a_weight(
    runs: dict[tuple[str, str], Run], profile: str
) -> None:
    run = runs["corrupt", profile]
    state = run.scale.state
    assert run.sim.frames_corrupted > 10 and state.frames_bad > 0, state
    assert_only_weights_shown(run)


def test_the_command_line_plays_a_scenario_and_lists_the_options() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "edge_agent.simulate", "--list"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert len(listed.stdout.splitlines()) == len(WEIGHT_PROFILES)
    assert '"options": {"format": "binary", "unit": "kg"}' in listed.stdout
    played = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_agent.simulate",
            *("--profile", "bilanciai", "--listen", "socket://127.0.0.1:0"),
            *("--scenario", "noise", "--speed", "50", "--cycles", "1", "--no-wait"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert played.returncode == 0, played.stderr
    assert "simulating bilanciai" in played.stdout
    assert 'options = { unit = "kg", decimals = 0 }' in played.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "edge_agent.simulate", "--profile", "sma", "--listen", "tcp://x"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "socket://host:port" in bad.stderr
