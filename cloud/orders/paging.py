"""Opaque cursors for keyset paging: the sort key of the last row of a page, as base64url
JSON tagged with the list it belongs to. A client passes it back as ``after``; it never sees
or builds a key itself, so the sort order can change without breaking clients."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Any

from cloud.errors import Unprocessable
from cloud.types import MAX_ID

MAX_CURSOR = 200
"""Characters: far more than any key of ours encodes to (the query parameter's limit)."""


class BadCursor(Unprocessable):
    """An ``after`` that is not a cursor this list handed out."""

    def __init__(self, list_name: str) -> None:
        super().__init__(f"after: not a cursor of the {list_name} list; pass back 'next'")


def encode(list_name: str, key: dict[str, Any]) -> str:
    raw = json.dumps({"l": list_name, **key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(list_name: str, cursor: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor(list_name) from None
    if not isinstance(key, dict) or key.pop("l", None) != list_name:
        raise BadCursor(list_name)
    return key


def _id(list_name: str, value: Any) -> int:
    if type(value) is not int or not 1 <= value <= MAX_ID:
        raise BadCursor(list_name)
    return value


def encode_id(list_name: str, id_: int) -> str:
    return encode(list_name, {"id": id_})


def decode_id(list_name: str, cursor: str) -> int:
    """The id of a list sorted by id alone."""
    key = _decode(list_name, cursor)
    if set(key) != {"id"}:
        raise BadCursor(list_name)
    return _id(list_name, key["id"])


def encode_date_id(list_name: str, day: date | None, id_: int) -> str:
    return encode(list_name, {"d": day.isoformat() if day else None, "id": id_})


def decode_date_id(list_name: str, cursor: str) -> tuple[date | None, int]:
    """The (date, id) of a list sorted by a nullable date, then id."""
    key = _decode(list_name, cursor)
    if set(key) != {"d", "id"}:
        raise BadCursor(list_name)
    day = key["d"]
    if day is not None:
        try:
            day = date.fromisoformat(day) if isinstance(day, str) else None
        except ValueError:
            day = None
        if day is None:
            raise BadCursor(list_name)
    return day, _id(list_name, key["id"])


def decode_date_key(list_name: str, cursor: str) -> tuple[date, int]:
    """The (date, id) of a list sorted by a date that is never NULL, then id."""
    day, id_ = decode_date_id(list_name, cursor)
    if day is None:
        raise BadCursor(list_name)
    return day, id_
