"""Mosquitto 2.0 authentication and ACLs generated from the device registry.

``oms broker config --out DIR`` writes:

- ``DIR/passwd``: one ``user:$7$...`` line per active device plus the ingest account (0600);
- ``DIR/acl``: what each of them may read and write;
- ``DIR/auth.conf``: the listener(s) using those files.

Revoked devices and devices without a (well-formed) hash get neither a password line nor an
ACL entry. Mosquitto re-reads both files on SIGHUP and, in 2.0.11, disconnects clients whose
credentials are gone (see ``tests/cloud/test_broker_security.py``).

With ``service_port`` the cloud's own accounts get a second listener (see
:func:`render_auth_conf`): ``use_username_as_clientid`` would make several ingest workers that
share one account take each other's client id and disconnect each other.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.devices.credentials import (
    hash_password,
    is_mosquitto_hash,
    new_password,
    verify_password,
)
from cloud.devices.models import Device
from cloud.errors import Conflict
from protocols.topics import (
    DEVICE_ID_RE,
    PREFIX,
    Direction,
    device_downlink_filter,
    device_uplink_filter,
    ingest_filter,
)

DEFAULT_INGEST_USERNAME = "oms-ingest"
PASSWD = "passwd"  # noqa: S105 - a file name
ACL = "acl"
AUTH_CONF = "auth.conf"
SERVICE_PASSWD = "passwd-service"  # noqa: S105 - a file name
SERVICE_ACL = "acl-service"
_SERVICE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# What the ingest may do: read every device's uplink (also through a ``$share/<group>/``
# subscription: Mosquitto checks deliveries against the plain topic) and write every downlink.
INGEST_READ = ingest_filter()
INGEST_WRITE = "/".join((PREFIX, "+", Direction.DOWN.value, "#"))


class AccountNameClash(Conflict):
    """A device id equals the name of a service account."""


class ServiceAccountNameInvalid(Conflict):
    status_code = 422


@dataclass(frozen=True)
class Account:
    username: str
    password_hash: str
    read: tuple[str, ...]
    write: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Listener:
    port: int = 1883
    bind: str = "127.0.0.1"


@dataclass
class GeneratedConfig:
    out: Path
    files: dict[str, str]
    devices: int
    skipped: list[str] = field(default_factory=list)
    """Devices left out: no or a malformed hash, or an id that is not ``[a-z0-9-]``."""
    ingest_username: str = DEFAULT_INGEST_USERNAME
    ingest_password: str | None = None
    """Set only when a new ingest password was generated: print it once."""


def device_accounts(session: Session) -> tuple[list[Account], list[str]]:
    """Accounts of all active devices (any tenant: one broker serves them all), and the ids
    skipped: no or a malformed hash, or an unsafe id that bypassed registration."""
    accounts: list[Account] = []
    skipped: list[str] = []
    for device in session.scalars(
        select(Device).where(Device.revoked_at.is_(None)).order_by(Device.id)
    ):
        if (
            not DEVICE_ID_RE.fullmatch(device.id)  # a row written around the service
            or not device.credential_hash
            or not is_mosquitto_hash(device.credential_hash)
        ):
            skipped.append(device.id)
            continue
        accounts.append(
            Account(
                username=device.id,
                password_hash=device.credential_hash,
                read=(device_downlink_filter(device.id),),
                write=(device_uplink_filter(device.id),),
                note=f"device {device.id} ({device.kind}, tenant {device.tenant_id})",
            )
        )
    return accounts, skipped


def ingest_account(username: str, password_hash: str) -> Account:
    check_service_name(username)
    return Account(
        username=username,
        password_hash=password_hash,
        read=(INGEST_READ,),
        write=(INGEST_WRITE,),
        note="cloud ingest (service account)",
    )


def check_service_name(username: str) -> str:
    if not _SERVICE_NAME_RE.fullmatch(username):
        raise ServiceAccountNameInvalid(
            f"service account name {username!r}: 1-64 of A-Z a-z 0-9 . _ -"
        )
    return username


def render_passwd(accounts: Iterable[Account]) -> str:
    lines = []
    for a in accounts:
        # Never write a line Mosquitto could misread (CVE-2018-12551: a malformed line
        # became a user with an empty password).
        if ":" in a.username or "\n" in a.username or not is_mosquitto_hash(a.password_hash):
            raise ValueError(f"refusing to write a malformed password line for {a.username!r}")
        lines.append(f"{a.username}:{a.password_hash}\n")
    return "".join(lines)


def render_acl(accounts: Iterable[Account]) -> str:
    # One ``user`` block per account rather than ``pattern ... %u`` lines: the file then
    # grants exactly the registered, non-revoked names (a revoked device loses its topics even
    # if its password line lingered somewhere), it can be read and audited as is, and it does
    # not depend on how a Mosquitto version substitutes %u (changed in 2.1.2, mosquitto#3520).
    # Device ids are [a-z0-9-] only, so no id can smuggle a wildcard or level into a topic.
    out = [
        "# Generated by `oms broker config` from the device registry: do not edit.\n",
        "# Anything not granted here is denied (also to unknown or anonymous clients).\n",
    ]
    for a in accounts:
        out.append(f"\n# {a.note}\nuser {a.username}\n")
        out += [f"topic write {t}\n" for t in a.write]
        out += [f"topic read {t}\n" for t in a.read]
    return "".join(out)


def render_auth_conf(directory: Path, *, devices: Listener, service: Listener | None = None) -> str:
    """The listener section. Listener-level options follow their ``listener`` line: before
    any listener they would configure (and open) Mosquitto's default listener on 1883."""
    d = directory.resolve()
    head = [
        "# Generated by `oms broker config`: do not edit; regenerate from the device registry.",
        "# Reload with SIGHUP (systemctl reload mosquitto): passwd and acl are re-read.",
        f"per_listener_settings {'true' if service else 'false'}",
        "# A retained message is delivered only while its publisher may still write the topic",
        "# (a revoked device's retained status goes quiet). 2.0's default, stated on purpose.",
        "check_retain_source true",
        "",
    ]
    device_block = [
        "# Devices: the client id is replaced by the user name, so a device can neither take",
        "# over another device's session nor disconnect it by reusing its client id.",
        f"listener {devices.port} {devices.bind}",
        "allow_anonymous false",
        f"password_file {d / PASSWD}",
        f"acl_file {d / ACL}",
        "use_username_as_clientid true",
    ]
    if service is None:
        return "\n".join([*head, *device_block, ""])
    service_block = [
        "",
        "# Cloud services (ingest workers share one account and keep their own client ids).",
        "# Only service accounts exist here; bind it where devices cannot reach it.",
        f"listener {service.port} {service.bind}",
        "allow_anonymous false",
        f"password_file {d / SERVICE_PASSWD}",
        f"acl_file {d / SERVICE_ACL}",
    ]
    return "\n".join([*head, *device_block, *service_block, ""])


def existing_hash(path: Path, username: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        name, sep, hashed = line.partition(":")
        if sep and name == username and is_mosquitto_hash(hashed):
            return hashed
    return None


def ingest_credentials(out: Path, *, username: str, password: str | None) -> tuple[str, str | None]:
    """The ingest account's hash, and its password if a new one had to be made.

    The hash already in ``out`` is kept when it still matches (so a rerun changes nothing and
    a running ingest keeps working); with no configured password a new one is generated only
    when there is none yet."""
    current = existing_hash(out / SERVICE_PASSWD, username) or existing_hash(out / PASSWD, username)
    if password:
        if current and verify_password(password, current):
            return current, None
        return hash_password(password), None
    if current:
        return current, None
    generated = new_password()
    return hash_password(generated), generated


def build_broker_config(
    session: Session,
    *,
    out: Path,
    ingest_username: str = DEFAULT_INGEST_USERNAME,
    ingest_password: str | None = None,
    devices: Listener | None = None,
    service: Listener | None = None,
) -> GeneratedConfig:
    devices = devices or Listener()
    check_service_name(ingest_username)
    accounts, skipped = device_accounts(session)
    if any(a.username == ingest_username for a in accounts):
        raise AccountNameClash(
            f"device id {ingest_username!r} is also the ingest account's name; rename one"
        )
    ingest_hash, generated = ingest_credentials(
        out, username=ingest_username, password=ingest_password
    )
    ingest = ingest_account(ingest_username, ingest_hash)
    auth = render_auth_conf(out, devices=devices, service=service)
    if service is None:
        files = {PASSWD: render_passwd([*accounts, ingest]), ACL: render_acl([*accounts, ingest])}
    else:
        files = {
            PASSWD: render_passwd(accounts),
            ACL: render_acl(accounts),
            SERVICE_PASSWD: render_passwd([ingest]),
            SERVICE_ACL: render_acl([ingest]),
        }
    files[AUTH_CONF] = auth  # last: written after the files it names
    return GeneratedConfig(
        out=out,
        files=files,
        devices=len(accounts),
        skipped=skipped,
        ingest_username=ingest_username,
        ingest_password=generated,
    )


MODES = {PASSWD: 0o600, SERVICE_PASSWD: 0o600, ACL: 0o640, SERVICE_ACL: 0o640, AUTH_CONF: 0o644}


def write_broker_config(config: GeneratedConfig, *, owner: str | None = None) -> list[Path]:
    """Write every file atomically (a reload never reads half a file), with its mode; chown
    them to ``owner`` (the user Mosquitto runs as, which reads them after dropping root)."""
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    uid = gid = -1
    if owner:
        import pwd

        entry = pwd.getpwnam(owner)
        uid, gid = entry.pw_uid, entry.pw_gid
    written = []
    for name, content in config.files.items():
        written.append(_write_atomic(out / name, content, MODES[name], uid, gid))
    if SERVICE_PASSWD not in config.files:
        for stale in (SERVICE_PASSWD, SERVICE_ACL):
            (out / stale).unlink(missing_ok=True)
    return written


def _write_atomic(path: Path, content: str, mode: int, uid: int, gid: int) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask and ignored if it existed
        if uid != -1:
            os.fchown(fd, uid, gid)
        f.write(content.encode("utf-8"))
        f.flush()
        os.fsync(fd)
    os.replace(tmp, path)
    return path


def summary(config: GeneratedConfig) -> Sequence[str]:
    lines = [f"wrote {', '.join(sorted(config.files))} to {config.out} ({config.devices} devices)"]
    if config.skipped:
        lines.append(
            f"left out (no valid hash or unsafe id): {', '.join(map(repr, config.skipped))}"
        )
    return lines
