"""Standard Webhooks signing (https://www.standardwebhooks.com): pure functions, no I/O.

- the secret is ``whsec_`` + base64 of the key bytes (32 random bytes here);
- the signed content is ``{webhook-id}.{webhook-timestamp}.{raw body}``;
- ``webhook-signature`` holds one or more space-separated ``v1,<base64 HMAC-SHA256>``;
  any one that matches any of the tenant's valid keys passes (a rotation signs with both);
- ``webhook-timestamp`` (unix seconds) lies within ``TOLERANCE`` of our clock, either way.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
SECRET_BYTES = 32
TOLERANCE = timedelta(minutes=5)
MAX_SIGNATURES = 16
"""More entries than any rotation needs: the rest of a longer header is ignored."""

_ID = re.compile(r"[\x21-\x7e]{1,100}")
"""Printable ASCII without spaces, and it must fit ``webhook_deliveries.webhook_id``."""
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(ValueError):
    """Why a delivery is not authentic (the reason is logged, the caller only sees 401)."""


@dataclass(frozen=True)
class SignedHeaders:
    webhook_id: str
    timestamp: str
    signatures: tuple[str, ...]


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise SignatureError("a webhook secret starts with whsec_")
    try:
        return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("the webhook secret is not base64") from exc


def sign(*, key: bytes, webhook_id: str, timestamp: str | int, body: bytes) -> str:
    """One ``v1,<base64>`` signature."""
    content = f"{webhook_id}.{timestamp}.".encode("ascii") + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def check_headers(
    *, webhook_id: str | None, timestamp: str | None, signature: str | None, now: datetime
) -> SignedHeaders:
    """The three headers, well-formed and fresh; ``SignatureError`` otherwise."""
    if not webhook_id or not timestamp or not signature:
        raise SignatureError("webhook-id, webhook-timestamp and webhook-signature are required")
    if not _ID.fullmatch(webhook_id):
        raise SignatureError("webhook-id must be 1 to 100 printable ASCII characters")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError("webhook-timestamp must be unix seconds")
    if abs(int(timestamp) - now.timestamp()) > TOLERANCE.total_seconds():
        raise SignatureError("webhook-timestamp is outside the tolerance")
    entries = tuple(
        entry[3:] for entry in signature.split(" ")[:MAX_SIGNATURES] if entry.startswith("v1,")
    )
    if not entries:
        raise SignatureError("webhook-signature has no v1 signature")
    return SignedHeaders(webhook_id, timestamp, entries)


def verify(*, keys: Sequence[bytes], headers: SignedHeaders, body: bytes) -> bool:
    """Whether any signature of the header is the HMAC of any key, compared in constant
    time. Every key is computed (even after a match): no timing says which key matched."""
    content = f"{headers.webhook_id}.{headers.timestamp}.".encode("ascii") + body
    ok = False
    for key in keys:
        expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
        for given in headers.signatures:
            if hmac.compare_digest(expected, given.encode("ascii", "replace")):
                ok = True
    return ok
