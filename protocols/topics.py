"""MQTT topic tree v1: the only place that builds or parses topic strings.

    oms/v1/{device_id}/up/{stream}     device -> cloud
    oms/v1/{device_id}/down/{stream}   cloud -> device

Device ids are restricted to lower-case letters, digits and inner hyphens, so they are safe as a
topic level and inside broker ACL patterns (no ``+``, ``#``, ``/``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

PREFIX = "oms/v1"
DEVICE_ID_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
SHARED_GROUP = "ingest"


class TopicError(ValueError):
    """A topic that is not part of the v1 tree."""


class InvalidDeviceId(ValueError):
    """A device id with characters outside ``[a-z0-9-]`` or of a bad length."""


class Direction(StrEnum):
    UP = "up"
    DOWN = "down"


class UpStream(StrEnum):
    MEASUREMENT = "measurement"
    WEIGHING = "weighing"
    JOB_UPDATE = "job-update"
    POD = "pod"
    ORDER = "order"
    HEARTBEAT = "heartbeat"
    STATUS = "status"


class DownStream(StrEnum):
    RECEIPT = "receipt"
    JOB = "job"
    CONFIG = "config"


@dataclass(frozen=True, slots=True)
class Topic:
    device_id: str
    direction: Direction
    stream: UpStream | DownStream

    def __str__(self) -> str:
        return f"{PREFIX}/{self.device_id}/{self.direction.value}/{self.stream.value}"


def validate_device_id(device_id: str) -> str:
    """Return ``device_id`` unchanged, or raise :class:`InvalidDeviceId` with the reason."""
    if not isinstance(device_id, str) or not DEVICE_ID_RE.fullmatch(device_id):
        raise InvalidDeviceId(
            f"device id {device_id!r} must be 1-64 characters of a-z, 0-9 and inner '-'"
        )
    return device_id


def up_topic(device_id: str, stream: UpStream | str) -> str:
    return str(Topic(validate_device_id(device_id), Direction.UP, UpStream(stream)))


def down_topic(device_id: str, stream: DownStream | str) -> str:
    return str(Topic(validate_device_id(device_id), Direction.DOWN, DownStream(stream)))


def device_downlink_filter(device_id: str) -> str:
    """What a device subscribes to: everything the cloud sends it."""
    return f"{PREFIX}/{validate_device_id(device_id)}/{Direction.DOWN.value}/#"


def device_uplink_filter(device_id: str) -> str:
    """What a device may publish to (used for broker ACLs)."""
    return f"{PREFIX}/{validate_device_id(device_id)}/{Direction.UP.value}/#"


def ingest_filter(*, shared_group: str | None = None) -> str:
    """What ingest subscribes to. With ``shared_group`` the broker splits the load (MQTT v5)."""
    base = f"{PREFIX}/+/{Direction.UP.value}/#"
    return f"$share/{shared_group}/{base}" if shared_group else base


def parse_topic(topic: str) -> Topic:
    """Parse a concrete (wildcard-free) v1 topic, or raise :class:`TopicError`."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise TopicError(f"topic {topic!r} is not oms/v1/<device>/<up|down>/<stream>")
    _, _, device_id, direction, stream = parts
    try:
        validate_device_id(device_id)
    except InvalidDeviceId as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from exc
    try:
        dir_ = Direction(direction)
    except ValueError:
        raise TopicError(f"topic {topic!r}: direction must be 'up' or 'down'") from None
    streams: type[UpStream] | type[DownStream] = UpStream if dir_ is Direction.UP else DownStream
    try:
        return Topic(device_id, dir_, streams(stream))
    except ValueError:
        allowed = ", ".join(s.value for s in streams)
        raise TopicError(
            f"topic {topic!r}: unknown {dir_.value} stream (one of {allowed})"
        ) from None
