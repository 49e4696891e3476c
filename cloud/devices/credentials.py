"""Device broker credentials: a random password shown once, stored only as a hash that
Mosquitto 2.0 reads directly from its ``password_file``.

The format is Mosquitto's ``$7$`` (what ``mosquitto_passwd`` writes by default since 2.0):

    $7$<iterations>$<base64 salt>$<base64 PBKDF2-HMAC-SHA512(password, salt, iterations, 64)>

The salt is 12 random bytes and PBKDF2 runs over the *decoded* salt bytes; base64 is the
standard alphabet with padding. Checked against ``mosquitto_passwd`` output and a real broker
in the tests. So the broker config is generated from the device registry without the
plaintext ever being stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets

ITERATIONS = 1000
"""Mosquitto 2.0 writes 101 by default and accepts any count stored in the hash. Device
passwords are 256-bit random strings, so the count protects little; 1000 keeps a reconnect
storm of a few thousand devices cheap for the broker (about 1 ms of CPU per login)."""
SALT_BYTES = 12
HASH_BYTES = 64
PASSWORD_BYTES = 32

_HASH_RE = re.compile(r"^\$7\$(\d{1,9})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$")


class CredentialHashInvalid(ValueError):
    """A stored hash that is not in Mosquitto's ``$7$`` format."""


def new_password() -> str:
    """A random device password (43 URL-safe characters, 256 bits)."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("empty password")
    if iterations < 1:
        raise ValueError("iterations must be positive")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return f"$7${iterations}${_b64(salt)}${_b64(digest)}"


def parse_hash(hashed: str) -> tuple[int, bytes, bytes]:
    """``(iterations, salt, digest)`` of a ``$7$`` hash, or :class:`CredentialHashInvalid`."""
    m = _HASH_RE.fullmatch(hashed or "")
    if m is None:
        raise CredentialHashInvalid("not a Mosquitto $7$ (PBKDF2-SHA512) hash")
    try:
        salt = base64.b64decode(m.group(2), validate=True)
        digest = base64.b64decode(m.group(3), validate=True)
    except binascii.Error as exc:
        raise CredentialHashInvalid(f"bad base64 in hash: {exc}") from None
    if len(digest) != HASH_BYTES or not salt:
        raise CredentialHashInvalid("hash or salt has the wrong length")
    return int(m.group(1)), salt, digest


def verify_password(password: str, hashed: str | None) -> bool:
    """True if ``password`` matches ``hashed``; False for no hash or a malformed one."""
    if not hashed or not password:
        return False
    try:
        iterations, salt, digest = parse_hash(hashed)
    except CredentialHashInvalid:
        return False
    candidate = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, HASH_BYTES)
    return hmac.compare_digest(candidate, digest)


def is_mosquitto_hash(hashed: str) -> bool:
    try:
        parse_hash(hashed)
    except CredentialHashInvalid:
        return False
    return True


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
