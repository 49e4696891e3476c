"""Agent configuration: a TOML file plus ``OMS_EDGE_`` environment overrides (nested keys with
``__``, e.g. ``OMS_EDGE_MQTT__PASSWORD``). The only module that reads the environment.

Per-device data that the office manages (which vehicles exist, stored tares) comes from the
cloud; what is here is what the device needs to start and reach the cloud.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from firmware_profiles import ProfileError, UnknownProfile, get_profile

DeviceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")]
Role = Literal["weighbridge", "onboard", "gps", "rfid"]


class ConfigError(ValueError):
    """The configuration cannot be used; the message says where and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SerialOverrides(_Strict):
    baudrate: int | None = Field(default=None, gt=0)
    bytesize: Literal[5, 6, 7, 8] | None = None
    parity: Literal["N", "E", "O", "M", "S"] | None = None
    stopbits: Literal[1, 2] | None = None
    rtscts: bool = False
    xonxoff: bool = False
    dtr: bool | None = None
    """Force DTR low/high on open; some indicators reset when it toggles."""
    rts: bool | None = None


class PortConfig(_Strict):
    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
    url: str = Field(
        min_length=1, description="pyserial URL: /dev/ttyUSB0, socket://h:p, rfc2217://h:p, loop://"
    )
    profile: str
    role: Role
    capacity_kg: float | None = Field(default=None, gt=0)
    serial: SerialOverrides = SerialOverrides()
    options: dict[str, Any] = Field(default_factory=dict)
    """Profile options, e.g. ``{checksum = "required"}`` for toledo-continuous."""
    poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    stable_count: int = Field(default=5, ge=2, le=100)
    """For formats without a motion flag: this many equal readings ..."""
    stable_window_s: float = Field(default=2.0, gt=0, le=60)
    """... within this many seconds count as stable."""

    @model_validator(mode="after")
    def _profile_exists(self) -> PortConfig:
        try:
            profile = get_profile(self.profile, **self.options)
        except UnknownProfile as exc:
            raise ValueError(str(exc)) from None
        except ProfileError as exc:
            raise ValueError(f"options for {self.profile}: {exc}") from None
        kinds = {"weighbridge": "weight", "onboard": "weight", "gps": "position", "rfid": "tag"}
        if kinds[self.role] not in profile.kinds:
            raise ValueError(
                f"profile {self.profile} yields {sorted(profile.kinds)}, not what role "
                f"{self.role!r} needs ({kinds[self.role]})"
            )
        return self


class MqttConfig(_Strict):
    url: str = "mqtt://127.0.0.1:1883"
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    protocol: Literal["auto", "5", "3.1.1"] = "auto"
    """``auto``: MQTT v5, falling back to 3.1.1 when the broker refuses v5."""
    session_expiry_s: int = Field(default=24 * 3600, ge=0)
    keepalive_s: int = Field(default=30, ge=5, le=600)


class OutboxConfig(_Strict):
    path: Path = Path("var/edge/outbox.db")
    budget_mb: float = Field(default=256, gt=0)
    """Disk budget; above it plain measurements are thinned, never weighings or PoD."""
    alarm_ratio: float = Field(default=0.8, gt=0, le=1)
    inflight: int = Field(default=200, ge=1, le=10_000)
    """Messages published and not yet receipted at any time."""
    resend_after_s: float = Field(default=15, gt=0)
    """Publish again what no receipt named within this time (the broker may have lost it)."""


class WeighbridgeConfig(_Strict):
    instrument_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "scale-1"
    ticket_prefix: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,16}$")] = "WB"
    min_weight_kg: float = Field(default=200, gt=0)
    """Below this the bridge counts as empty."""
    identification_timeout_s: float = Field(default=300, gt=0)
    """A card read or plate entered is used for a weighing within this time."""
    open_weighing_max_h: float = Field(default=24, gt=0)
    single_pass_with_stored_tare: bool = True
    """A vehicle with a valid stored tare (from the office) is weighed once: gross now, tare
    stored, marked ``stored`` on the ticket."""


class OnboardConfig(_Strict):
    bin_lift_window_s: float = Field(default=15, gt=0, le=600)
    """A stable weight this soon after a bin's tag was read is that bin's lift."""
    min_lift_kg: float = Field(default=2, ge=0)
    weight_fresh_s: float = Field(default=5, gt=0)
    """A weight the driver records must be this recent."""


class GpsConfig(_Strict):
    interval_s: float = Field(default=30, gt=0)
    """A position is kept at least this often while the truck stands still ..."""
    distance_m: float = Field(default=50, gt=0)
    """... and whenever it moved this far since the last kept one."""


class MeasurementsConfig(_Strict):
    interval_s: float = Field(default=1.0, gt=0, le=3600)
    """Readings are batched into one message per interval."""
    max_rate_hz: float = Field(default=10, gt=0, le=100)
    """At most this many readings per second per port are kept."""


class AgentConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OMS_EDGE_", env_nested_delimiter="__", extra="forbid"
    )

    device_id: DeviceId
    mqtt: MqttConfig = MqttConfig()
    api_url: str | None = None
    outbox: OutboxConfig = OutboxConfig()
    ports: list[PortConfig] = Field(default_factory=list)
    weighbridge: WeighbridgeConfig = WeighbridgeConfig()
    measurements: MeasurementsConfig = MeasurementsConfig()
    onboard: OnboardConfig = OnboardConfig()
    gps: GpsConfig = GpsConfig()
    heartbeat_s: float = Field(default=30, gt=0)
    terminal_listen: str | None = None
    """``host:port`` for the local terminal/driver page (``127.0.0.1:8080``, ``[::1]:8080``;
    a bare ``:8080`` is loopback); None: not served. Listening beyond loopback (a touch screen
    on another box, the driver's phone on the truck's Wi-Fi) needs ``terminal_token``."""
    terminal_token: SecretStr | None = None
    """When set, the local page and its API require ``?token=`` (or the X-Terminal-Token
    header): the truck's Wi-Fi is not the only lock."""
    log_level: Literal["TRACE", "DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return env_settings, init_settings  # the environment overrides the file

    @model_validator(mode="after")
    def _unique_ports(self) -> AgentConfig:
        names = [p.name for p in self.ports]
        if len(names) != len(set(names)):
            raise ValueError(f"port names must be unique, got {names}")
        return self

    @model_validator(mode="after")
    def _terminal_is_locked_beyond_loopback(self) -> AgentConfig:
        if self.terminal_token is not None and not self.terminal_token.get_secret_value():
            raise ValueError("terminal_token is empty: leave it out, or set a real one")
        if self.terminal_listen is None:
            return self
        host, _ = parse_listen(self.terminal_listen)
        if self.terminal_token is None and not is_loopback(host):
            raise ValueError(
                f"terminal_listen {self.terminal_listen!r} serves the local page beyond this "
                "machine without a terminal_token: anyone on that network could enter plates "
                "and weighings. Set terminal_token, or listen on 127.0.0.1"
            )
        return self

    def terminal_address(self) -> tuple[str, int] | None:
        """Where the local page listens, as a socket address; None: not served."""
        return None if self.terminal_listen is None else parse_listen(self.terminal_listen)


_LISTEN = re.compile(r"^(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^\[\]:\s]*)):(?P<port>[0-9]{1,5})$")


def parse_listen(text: str) -> tuple[str, int]:
    """``host:port`` (IPv6 in brackets) as a socket address; an empty host is loopback, never
    every interface. Raises ValueError with what is wrong."""
    m = _LISTEN.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"terminal_listen {text!r} is not host:port (IPv6 as [::1]:8080)")
    port = int(m["port"])
    if not 0 <= port <= 65535:
        raise ValueError(f"terminal_listen {text!r}: port {port} is not 0..65535")
    host = m["v6"] if m["v6"] is not None else m["host"]
    return (host or "127.0.0.1", port)


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach: ``localhost``, 127.0.0.0/8, ``::1``.
    Any other name is not trusted to resolve to loopback."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_config(path: str | Path) -> AgentConfig:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        cfg = AgentConfig(**data)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s):"]
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            lines.append(f"  {loc}: {err['msg']}")
        raise ConfigError("\n".join(lines)) from None
    if not cfg.outbox.path.is_absolute():
        cfg.outbox.path = (path.parent / cfg.outbox.path).resolve()
    return cfg
