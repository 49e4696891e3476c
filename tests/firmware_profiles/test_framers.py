"""Framer tests for every profile (and each framing option), built from a valid sample stream
per profile (``support.SAMPLES``): whole stream, byte by byte, garbage in front, half a frame
in front, two frames in one read, truncated tail, and parity in bit 7 for 7-bit profiles.

The reference for each test is ``parse(frame)`` of every sample frame on its own."""

from __future__ import annotations

import pytest

from firmware_profiles import PROFILES, Reading
from tests.firmware_profiles.support import (
    GARBAGE,
    SAMPLES,
    Sample,
    check_invariants,
    parse_all,
    readings,
    run,
    with_even_parity,
)

pytestmark = pytest.mark.unit

samples = pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)


def expected(sample: Sample) -> list[Reading]:
    profile = sample.make()
    out = [profile.parse(frame) for frame in sample.frames]
    for reading in out:
        check_invariants(reading, profile)
    return out


def decoded(sample: Sample, chunks: list[bytes]) -> list[Reading]:
    profile = sample.make()
    items = parse_all(profile, run(profile, chunks))
    for item in readings(items):
        check_invariants(item, profile)
    return readings(items)


def test_every_profile_has_samples() -> None:
    assert {s.profile for s in SAMPLES} == {p.name for p in PROFILES}


@samples
def test_whole_stream(sample: Sample) -> None:
    profile = sample.make()
    framer = profile.framer()
    frames = run(profile, [sample.stream], framer)
    assert len(frames) == len(sample.frames)
    assert readings(parse_all(profile, frames)) == expected(sample)
    assert framer.discarded == 0, "a clean stream has no garbage (CR LF pairs are not garbage)"


@samples
def test_byte_by_byte(sample: Sample) -> None:
    data = sample.stream
    assert decoded(sample, [data[i : i + 1] for i in range(len(data))]) == expected(sample)


@samples
def test_garbage_prefix(sample: Sample) -> None:
    profile = sample.make()
    framer = profile.framer()
    items = parse_all(profile, run(profile, [GARBAGE + sample.stream], framer))
    assert items == expected(sample)
    assert framer.discarded >= len(GARBAGE)


@samples
def test_garbage_prefix_arriving_byte_by_byte(sample: Sample) -> None:
    data = GARBAGE + sample.stream
    assert decoded(sample, [data[i : i + 1] for i in range(len(data))]) == expected(sample)


@samples
def test_tail_of_a_frame_in_front(sample: Sample) -> None:
    """Connecting in the middle of a frame: its tail comes first and must not cost a frame."""
    last = sample.frames[-1]
    assert decoded(sample, [last[len(last) // 2 :] + sample.stream]) == expected(sample)


@samples
def test_head_of_a_frame_in_front(sample: Sample) -> None:
    """A frame cut short (a glitch, a reconnect) followed by the stream."""
    first = sample.frames[0]
    got = decoded(sample, [first[: len(first) // 2], sample.stream])
    assert got == expected(sample)


@samples
def test_two_frames_in_one_read(sample: Sample) -> None:
    profile = sample.make()
    framer = profile.framer()
    first, second, *rest = sample.frames
    out = list(framer.feed(first + second))
    assert len(out) == 2
    for frame in rest:
        out.extend(framer.feed(frame))
    out.extend(framer.flush())
    assert readings(parse_all(profile, out)) == expected(sample)


@samples
def test_truncated_tail(sample: Sample) -> None:
    profile = sample.make()
    for cut in (1, len(sample.frames[0]) // 2, len(sample.frames[0]) - 2):
        framer = profile.framer()
        frames = run(profile, [sample.stream + sample.frames[0][:cut]], framer)
        assert readings(parse_all(profile, frames)) == expected(sample), cut
        assert list(framer.flush()) == []


@samples
def test_frames_split_everywhere(sample: Sample) -> None:
    data = sample.stream
    for cut in range(1, len(data)):
        assert decoded(sample, [data[:cut], data[cut:]]) == expected(sample), cut


@pytest.mark.parametrize("sample", [s for s in SAMPLES if s.make().seven_bit], ids=lambda s: s.id)
def test_parity_in_bit_7_is_masked(sample: Sample) -> None:
    """A 7E1 device read on a port opened 8N1."""
    data = with_even_parity(sample.stream)
    assert data != sample.stream
    assert decoded(sample, [data]) == expected(sample)
    assert decoded(sample, [data[i : i + 1] for i in range(len(data))]) == expected(sample)
    profile = sample.make()
    assert [profile.parse(with_even_parity(f)) for f in sample.frames] == expected(sample)


@pytest.mark.parametrize("profile_cls", PROFILES, ids=lambda p: p.name)
def test_seven_bit_matches_the_serial_settings(profile_cls: type) -> None:
    settings = profile_cls.serial
    seven = settings.bytesize == 7 or any(
        a.split()[1].startswith("7") for a in settings.alternatives
    )
    assert profile_cls.seven_bit == seven


@samples
def test_a_partial_frame_is_held_back_and_described(sample: Sample) -> None:
    """What ``decode`` tells a user whose bytes held no complete frame."""
    profile = sample.make()
    framer = profile.framer()
    first = sample.frames[0]
    assert list(framer.feed(first[: len(first) // 2])) == []
    assert framer.pending == len(first) // 2
    assert framer.expecting()
    assert list(framer.flush()) == []
    assert framer.pending == 0
