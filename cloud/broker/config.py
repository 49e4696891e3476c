"""Mosquitto 2.0 authentication and ACLs generated from the device registry.

``oms broker config --out DIR`` writes:

- ``DIR/dynsec.json``: the dynamic-security plugin's database (0600): one client and one role
  per active device plus the ingest account, with what each may publish, receive and
  *subscribe to*;
- ``DIR/auth.conf``: the listener(s) loading that plugin;
- with ``service_port`` also ``DIR/passwd-service`` and ``DIR/acl-service`` (the ingest account
  on its own listener).

Why the plugin and not ``acl_file``: the ``acl_file`` check answers "allowed" to every
SUBSCRIBE, in 2.0.11 and in every version since (it only filters deliveries), so a device
could join ingest's shared subscription ``$share/ingest/oms/v1/+/up/#`` and take every other
message of every tenant away from ingest, then have it dropped on its own read check (issue 8,
finding 2). The
dynamic-security plugin shipped with Mosquitto 2.0 checks subscriptions too and denies any that
no role grants; 2.0.11 hands it the filter *with* the ``$share/<group>/`` prefix, so a device
role that grants ``oms/v1/<id>/down/#`` grants no shared subscription at all. Its password
fields are the same PBKDF2-SHA512 as the registry's ``$7$`` hashes, so no plaintext is needed.

Revoked devices and devices without a (well-formed) hash get no client. 2.0.11 reads
``dynsec.json`` only when the broker starts: a SIGHUP does *not* apply registry changes, the
broker must be restarted (see ``tests/cloud/test_broker_security.py``).

With ``service_port`` the cloud's own accounts get a second listener (see
:func:`render_auth_conf`): ``use_username_as_clientid`` would make several ingest workers that
share one account take each other's client id and disconnect each other.
"""

from __future__ import annotations

import base64
import glob
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.devices.credentials import (
    CredentialHashInvalid,
    hash_password,
    is_mosquitto_hash,
    new_password,
    parse_hash,
    verify_password,
)
from cloud.devices.models import Device
from cloud.errors import Conflict, Unprocessable
from protocols.topics import (
    DEVICE_ID_RE,
    PREFIX,
    Direction,
    device_downlink_filter,
    device_uplink_filter,
    ingest_filter,
)

DEFAULT_INGEST_USERNAME = "oms-ingest"
PASSWD = "passwd"  # noqa: S105 - a file name (written before issue 8; removed when found)
ACL = "acl"
DYNSEC = "dynsec.json"
AUTH_CONF = "auth.conf"
SERVICE_PASSWD = "passwd-service"  # noqa: S105 - a file name
SERVICE_ACL = "acl-service"
_SERVICE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

# What the ingest may do: read every device's uplink (also through a ``$share/<group>/``
# subscription: Mosquitto checks deliveries against the plain topic) and write every downlink.
INGEST_READ = ingest_filter()
INGEST_WRITE = "/".join((PREFIX, "+", Direction.DOWN.value, "#"))
# What the ingest may subscribe to: the plain filter (MQTT 3.1.1, one worker) and the shared
# one under any group name (``OMS_INGEST_SHARED_GROUP``). The plugin sees the ``$share/`` prefix.
INGEST_SUBSCRIBE = (INGEST_READ, ingest_filter(shared_group="+"))

DYNSEC_PLUGIN_NAME = "mosquitto_dynamic_security.so"
DYNSEC_PLUGIN_GLOBS = (
    f"/usr/lib/*/{DYNSEC_PLUGIN_NAME}",  # Debian/Ubuntu multiarch (package mosquitto)
    f"/usr/lib/{DYNSEC_PLUGIN_NAME}",
    f"/usr/lib64/{DYNSEC_PLUGIN_NAME}",
    f"/usr/local/lib/{DYNSEC_PLUGIN_NAME}",
)
# Deny what no role grants. ``unsubscribe`` stays open: leaving a subscription is harmless.
DYNSEC_DEFAULTS = {
    "publishClientSend": False,
    "publishClientReceive": False,
    "subscribe": False,
    "unsubscribe": True,
}


class DynsecPluginNotFound(Unprocessable):
    """Mosquitto's dynamic-security plugin is not where we looked: pass its path."""


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
    subscribe: tuple[str, ...] = ()
    """Filters it may subscribe to (dynamic-security ``subscribePattern``: the filter itself or
    a narrower one). Nothing else, and no ``$share/`` filter unless listed."""


class TlsFilesInvalid(Unprocessable):
    """A TLS listener without both of its files."""


@dataclass(frozen=True)
class Listener:
    port: int = 1883
    bind: str = "127.0.0.1"
    certfile: Path | None = None
    """PEM server certificate (with its chain): the listener speaks TLS only (mqtts://)."""
    keyfile: Path | None = None

    def tls_lines(self) -> list[str]:
        if self.certfile is None and self.keyfile is None:
            return []
        if self.certfile is None or self.keyfile is None:
            raise TlsFilesInvalid("a TLS listener needs both a certificate and its key")
        for f in (self.certfile, self.keyfile):
            if not f.is_file():
                raise TlsFilesInvalid(f"TLS file {str(f)!r} not found")
        return [
            "# TLS: devices connect with mqtts:// and check this certificate against their CA.",
            f"certfile {self.certfile.resolve()}",
            f"keyfile {self.keyfile.resolve()}",
            "tls_version tlsv1.2",
        ]


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
                subscribe=(device_downlink_filter(device.id),),
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
        subscribe=INGEST_SUBSCRIBE,
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


def role_name(username: str) -> str:
    return f"oms-{username}"


def dynsec_client(account: Account) -> dict[str, object]:
    """A dynamic-security client from a ``$7$`` hash: the plugin stores the same PBKDF2-SHA512
    as separate base64 fields (12-byte salt, 64-byte digest, iterations)."""
    if not is_mosquitto_hash(account.password_hash):
        raise ValueError(f"refusing to write a malformed hash for {account.username!r}")
    iterations, salt, digest = parse_hash(account.password_hash)
    return {
        "username": account.username,
        "textName": account.note,
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": iterations,
        "roles": [{"rolename": role_name(account.username)}],
    }


def dynsec_role(account: Account) -> dict[str, object]:
    acls = [
        *({"acltype": "publishClientSend", "topic": t, "allow": True} for t in account.write),
        *({"acltype": "publishClientReceive", "topic": t, "allow": True} for t in account.read),
        *({"acltype": "subscribePattern", "topic": t, "allow": True} for t in account.subscribe),
    ]
    return {"rolename": role_name(account.username), "textName": account.note, "acls": acls}


def render_dynsec(accounts: Iterable[Account]) -> str:
    """The plugin's database. One role per account rather than ``%u`` patterns, for the reasons
    given in :func:`render_acl`. It has no admin client: nobody can change it through
    ``$CONTROL/dynamic-security``, so the plugin never rewrites the file."""
    ordered = sorted(accounts, key=lambda a: a.username)
    doc = {
        "defaultACLAccess": DYNSEC_DEFAULTS,
        "clients": [dynsec_client(a) for a in ordered],
        "groups": [],
        "roles": [dynsec_role(a) for a in ordered],
    }
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def find_dynsec_plugin() -> Path:
    for pattern in DYNSEC_PLUGIN_GLOBS:
        for hit in sorted(glob.glob(pattern)):
            return Path(hit)
    raise DynsecPluginNotFound(
        f"{DYNSEC_PLUGIN_NAME} not found (Debian: package mosquitto 2.0); pass --dynsec-plugin"
    )


def render_auth_conf(
    directory: Path,
    *,
    devices: Listener,
    service: Listener | None = None,
    plugin: Path,
) -> str:
    """The listener section. Listener-level options follow their ``listener`` line: before
    any listener they would configure (and open) Mosquitto's default listener on 1883."""
    d = directory.resolve()
    head = [
        "# Generated by `oms broker config`: do not edit; regenerate from the device registry.",
        "# Apply with a RESTART (systemctl restart mosquitto): Mosquitto 2.0 reads dynsec.json",
        "# only at start, a reload (SIGHUP) leaves revoked devices connected and able to log in.",
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
        *devices.tls_lines(),
        "allow_anonymous false",
        "use_username_as_clientid true",
        "# Passwords and ACLs, subscriptions included: a device may subscribe only inside its",
        "# own oms/v1/<id>/down/ subtree and to no $share/ filter (acl_file cannot refuse that).",
        f"plugin {plugin}",
        f"plugin_opt_config_file {d / DYNSEC}",
    ]
    if service is None:
        return "\n".join([*head, *device_block, ""])
    service_block = [
        "",
        "# Cloud services (ingest workers share one account and keep their own client ids).",
        "# Only service accounts exist here; bind it where devices cannot reach it.",
        f"listener {service.port} {service.bind}",
        *service.tls_lines(),
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
    if path.name == DYNSEC:
        return _dynsec_hash(text, username)
    for line in text.splitlines():
        name, sep, hashed = line.partition(":")
        if sep and name == username and is_mosquitto_hash(hashed):
            return hashed
    return None


def _dynsec_hash(text: str, username: str) -> str | None:
    """The ``$7$`` hash of ``username`` in a dynsec.json we wrote, or None."""
    try:
        doc = json.loads(text)
        for client in doc.get("clients", []):
            if client.get("username") == username:
                salt = base64.b64decode(client["salt"], validate=True)
                digest = base64.b64decode(client["password"], validate=True)
                hashed = (
                    f"$7${int(client['iterations'])}${base64.b64encode(salt).decode()}"
                    f"${base64.b64encode(digest).decode()}"
                )
                parse_hash(hashed)
                return hashed
    except (ValueError, KeyError, TypeError, AttributeError, CredentialHashInvalid):
        return None
    return None


def ingest_credentials(out: Path, *, username: str, password: str | None) -> tuple[str, str | None]:
    """The ingest account's hash, and its password if a new one had to be made.

    The hash already in ``out`` is kept when it still matches (so a rerun changes nothing and
    a running ingest keeps working); with no configured password a new one is generated only
    when there is none yet."""
    current = (
        existing_hash(out / SERVICE_PASSWD, username)
        or existing_hash(out / DYNSEC, username)
        or existing_hash(out / PASSWD, username)  # written by a version before issue 8
    )
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
    dynsec_plugin: Path | None = None,
) -> GeneratedConfig:
    devices = devices or Listener()
    plugin = dynsec_plugin or find_dynsec_plugin()
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
    auth = render_auth_conf(out, devices=devices, service=service, plugin=plugin)
    if service is None:
        files = {DYNSEC: render_dynsec([*accounts, ingest])}
    else:
        files = {
            DYNSEC: render_dynsec(accounts),
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


MODES = {DYNSEC: 0o600, SERVICE_PASSWD: 0o600, SERVICE_ACL: 0o640, AUTH_CONF: 0o644}
GENERATED = (PASSWD, ACL, DYNSEC, SERVICE_PASSWD, SERVICE_ACL, AUTH_CONF)


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
    # Files of another layout (one listener vs two, or the acl_file config before issue 8)
    # would only mislead whoever reads the directory.
    for stale in GENERATED:
        if stale not in config.files:
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
