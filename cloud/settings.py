"""Cloud settings: the only module that reads the environment (prefix ``OMS_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-not-secret"  # noqa: S105 - refused outside development, see below


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str = ""
    """SQLAlchemy URL. Empty: a SQLite file ``<data_dir>/oms.db`` (the embedded default).
    PostgreSQL: ``postgresql+psycopg://user@host:5432/oms``."""
    db_pool_size: int = 5
    db_echo: bool = False

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str | None = None
    mqtt_password: SecretStr | None = None
    mqtt_tls_ca: Path | None = None
    mqtt_v5: bool | None = None
    """MQTT v5 (shared subscriptions, session expiry). None: v5 unless the URL says otherwise."""
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    ingest_client_id: str = "oms-ingest"
    ingest_shared_group: str | None = "ingest"
    ingest_batch_size: int = Field(default=500, ge=1, le=20_000)
    ingest_batch_idle_ms: int = Field(default=5, ge=0, le=5_000)
    ingest_batch_max_wait_ms: int = Field(default=20, ge=1, le=10_000)

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_url: str = ""
    secret_key: SecretStr = SecretStr(DEV_SECRET)
    token_ttl_hours: int = 12

    clock_skew_flag_s: int = 300
    """A device whose clock differs from ours by more than this is flagged."""

    # -- hardening (issue 8); each owner documents and uses its own group ---------------------
    # Ingest: device input.
    device_future_skew_s: int = Field(default=600, ge=0)
    """A device message whose ``occurred_at`` lies further than this in the future is refused."""
    dead_letter_payload_prefix_bytes: int = Field(default=4096, ge=0, le=1_048_576)
    """How much of a refused payload is kept (with its full size and sha256)."""
    dead_letter_rate_per_device: int = Field(default=60, ge=1)
    """Dead letters kept per device per ``dead_letter_rate_window_s``; the rest are counted."""
    dead_letter_rate_window_s: int = Field(default=60, ge=1)
    dead_letter_retention_days: int = Field(default=30, ge=1)

    # API: logins.
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_failure_window_s: int = Field(default=900, ge=1)
    login_lockout_s: int = Field(default=300, ge=1)

    # API: server-sent event streams.
    sse_max_streams_per_user: int = Field(default=3, ge=1)
    sse_max_streams_per_tenant: int = Field(default=20, ge=1)

    # API: request limits and production surface.
    max_json_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_json_keys: int = Field(default=10_000, ge=10)
    api_docs: bool | None = None
    """Serve ``/api/docs`` (Swagger UI from vendored assets). None: on outside production."""
    order_date_min_year: int = 2000
    order_date_max_years_ahead: int = Field(default=5, ge=1)

    # -- intake and the web pages (issue 9) -----------------------------------------------------
    max_form_body_bytes: int = Field(default=6 * 1_048_576, ge=1024)
    """Largest form or multipart body (web forms, CSV uploads of at most 5 MB) and largest
    webhook body; more is refused with 413 before it is read."""
    web_cookie_secure: bool = True
    """Mark the login and CSRF cookies ``Secure`` (sent over HTTPS only; browsers also keep
    them on http://localhost). Turn off only on a closed network served over plain HTTP."""

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError("OMS_SECRET_KEY must be set in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'oms.db').as_posix()}"

    @property
    def is_sqlite(self) -> bool:
        return self.sqlalchemy_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
