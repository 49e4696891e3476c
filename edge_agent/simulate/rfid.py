"""Tag reader frames: a scenario's tag as each reader profile sends it, built with the profile
modules' own encoders."""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.simulate.scenarios import Tag
from firmware_profiles import rfid_allflex, rfid_em4100, rfid_fdxb


def _em4100(tag: Tag) -> bytes:
    return rfid_em4100.encode_frame(tag.id_for("rfid-em4100"))


def _fdxb(tag: Tag) -> bytes:
    return rfid_fdxb.encode_frame(tag.country, tag.national, animal=False)


def _allflex(tag: Tag) -> bytes:
    return rfid_allflex.encode_line(tag.country, tag.national)


TAG_ENCODERS: dict[str, Callable[[Tag], bytes]] = {
    "rfid-em4100": _em4100,
    "rfid-fdxb": _fdxb,
    "rfid-allflex": _allflex,
}


def tag_frame(rfid_profile: str, tag: Tag) -> bytes:
    return TAG_ENCODERS[rfid_profile](tag)
