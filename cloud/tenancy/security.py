"""Password hashing (scrypt from the standard library) and bearer tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import cache

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


@cache
def _dummy_hash() -> str:
    """A hash of a random password with today's parameters, made once per process."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(password: str, stored: str | None) -> bool:
    """Constant work whatever ``stored`` is: a missing or unreadable hash (a user without a
    password, or no user at all) is checked against a dummy hash of the same cost and fails,
    so the time taken does not tell whether the account exists."""
    parsed = _parse(stored) if stored else None
    if parsed is None:
        _scrypt_matches(password, _parse(_dummy_hash()))  # type: ignore[arg-type]
        return False
    return _scrypt_matches(password, parsed)


_Parsed = tuple[int, int, int, bytes, bytes]


def _parse(stored: str) -> _Parsed | None:
    try:
        algo, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if algo != "scrypt":
            return None
        salt = base64.urlsafe_b64decode(salt_b64)
        expected = base64.urlsafe_b64decode(digest_b64)
        return int(n), int(r), int(p), salt, expected
    except ValueError:
        return None


def _scrypt_matches(password: str, parsed: _Parsed) -> bool:
    n, r, p, salt, expected = parsed
    got = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=2**26
    )
    return hmac.compare_digest(got, expected)


def hash_identifier(value: str, *, key: bytes) -> str:
    """A keyed hash of an identifier (an e-mail address) for storage and logs."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def mask_email(email: str) -> str:
    """``p***@acme.example``: enough to read a log, not enough to harvest addresses."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain[-40:]}"


def generate_password() -> str:
    """A password for a person to type once and change: 20 URL-safe characters (120 bits)."""
    return secrets.token_urlsafe(15)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
