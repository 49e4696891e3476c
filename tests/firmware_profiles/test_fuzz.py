"""Property tests for every profile: whatever the bytes and however they are chunked,

* the framer never raises;
* ``parse`` raises nothing but ProfileError subclasses;
* every reading satisfies the shared invariants;
* no weight, tag or position comes from a frame whose checksum fails (checked with checksum
  functions written independently of the profiles');
* for streams whose every frame carries a checksum, one flipped bit never changes what a
  reading says: it yields the original reading or an error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_profiles import ProfileError, Reading
from tests.firmware_profiles.support import (
    SAMPLES,
    Sample,
    check_invariants,
    checksum_verifies,
    reading_key,
)

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    out, i = [], 0
    for size in sizes:
        if i >= len(data):
            break
        out.append(data[i : i + size])
        i += size
    if i < len(data):
        out.append(data[i:])
    return out


@st.composite
def streams(draw: st.DrawFn, sample: Sample) -> tuple[bytes, bool]:
    """Random bytes, valid frames with random bytes spliced in, or valid frames with one
    flipped bit. Returns the bytes and whether they are "valid frames with one flipped bit"."""
    how = draw(st.sampled_from(["random", "spliced", "flipped"]))
    if how == "random":
        return draw(st.binary(max_size=160)), False
    frames = draw(st.lists(st.sampled_from(sample.frames), min_size=1, max_size=4))
    data = bytearray(b"".join(frames))
    if how == "spliced":
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data)))
            data[at:at] = draw(st.binary(min_size=1, max_size=12))
        return bytes(data), False
    at = draw(st.integers(0, len(data) - 1))
    data[at] ^= 1 << draw(st.integers(0, 7))
    return bytes(data), True


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
@FUZZ
@given(data=st.data())
def test_fuzz(sample: Sample, data: st.DataObject) -> None:
    stream, flipped = data.draw(streams(sample))
    sizes = data.draw(st.lists(st.integers(1, 24), max_size=40))
    profile = sample.make()
    framer = profile.framer()
    frames: list[bytes] = []
    for chunk in _chunks(stream, sizes):
        frames.extend(framer.feed(chunk))  # must not raise
    frames.extend(framer.flush())
    originals = {reading_key(profile.parse(f)) for f in sample.frames}
    for frame in frames:
        try:
            reading = profile.parse(frame)
        except ProfileError:
            continue
        assert isinstance(reading, Reading)
        check_invariants(reading, profile)
        if reading.kind in ("weight", "tag", "position"):
            assert checksum_verifies(profile.name, frame), frame
        if flipped and sample.checksummed:
            assert reading_key(reading) in originals, (frame, reading)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.id)
@FUZZ
@given(data=st.data())
def test_decode_never_raises(sample: Sample, data: st.DataObject) -> None:
    """``decode`` (what the CLI and the agent call) yields errors instead of raising."""
    stream, _ = data.draw(streams(sample))
    profile = sample.make()
    for item in profile.decode(stream):
        assert isinstance(item, Reading | ProfileError)
