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
