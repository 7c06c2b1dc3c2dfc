"""Typed settings from the environment. Nothing is built at import time."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "caretrail-dev-secret-not-for-production"
# 32 bytes, base64: the development master key for personal data (never in production).
DEV_MASTER_KEY = "Y2FyZXRyYWlsLWRldi1tYXN0ZXIta2V5LW5vdC1wcmQ="
DEV_FAKEPAY_SECRET = "fakepay-dev-webhook-secret-not-for-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore")

    env: str = Field(default="prod", validation_alias="CARETRAIL_ENV")
    host: str = Field(default="127.0.0.1", validation_alias="HOST")
    port: int = Field(default=8000, validation_alias="PORT")
    # Owner connection: migrations run with it. Unset → embedded PostgreSQL under data_dir.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    # Runtime connection (RLS applies). Unset → database_url with the user caretrail_app.
    app_database_url: str | None = Field(default=None, validation_alias="APP_DATABASE_URL")
    # Projector connection (reads every tenant's events, writes read models). Unset → database_url
    # with the user caretrail_projector.
    projector_database_url: str | None = Field(
        default=None, validation_alias="PROJECTOR_DATABASE_URL"
    )
    # Set → projections run through Kafka (separate processes); unset → in-process from the store.
    kafka_bootstrap_servers: str | None = Field(
        default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_partitions: int = Field(default=3, validation_alias="KAFKA_PARTITIONS")
    # Relay connection (reads every tenant's events). Unset → database_url, user caretrail_relay.
    relay_database_url: str | None = Field(default=None, validation_alias="RELAY_DATABASE_URL")
    data_dir: str = Field(default=".data", validation_alias="CARETRAIL_DATA_DIR")
    jwt_secret: str | None = Field(default=None, validation_alias="CARETRAIL_JWT_SECRET")
    # Wraps every patient's data key (base64 of 32 bytes). Required unless CARETRAIL_ENV is dev
    # or test; losing it makes all personal data unreadable, so back it up like the database.
    master_key: str | None = Field(default=None, validation_alias="CARETRAIL_MASTER_KEY")
    pool_size: int = Field(default=20, validation_alias="CARETRAIL_DB_POOL_SIZE")
    log_level: str = Field(default="INFO", validation_alias="CARETRAIL_LOG_LEVEL")
    # Reactions and the notification dispatcher run in the API process unless this is false
    # (then `caretrail reactions run` runs them).
    reactions_in_api: bool = Field(default=True, validation_alias="CARETRAIL_REACTIONS_IN_API")
    # Notifications: failed attempts before escalation, the wait after the first failure (each
    # next wait is 4 times longer), how long a sender holds an attempt, how often due ones are
    # looked for.
    notification_max_attempts: int = 3
    notification_first_retry_seconds: float = 30.0
    notification_lease_seconds: float = 60.0
    notification_poll_seconds: float = 0.5
    # Webhook secret per payment provider, as JSON ({"fakepay": "..."}). Unset in dev → fakepay
    # with a dev secret; elsewhere no provider is accepted until one is configured.
    payment_webhook_secrets: dict[str, str] = Field(
        default_factory=dict, validation_alias="CARETRAIL_PAYMENT_WEBHOOK_SECRETS"
    )
    # Check-in window defaults for new tenants, in minutes around the appointment start.
    checkin_opens_before_min: int = 30
    checkin_closes_after_min: int = 120
    # Specialty plugins: one folder per plugin with its manifest.yaml (unset: the repository's
    # plugins/ folder).
    plugins_dir: str | None = Field(default=None, validation_alias="CARETRAIL_PLUGINS_DIR")
    # Snapshot a stream every N events, per stream type, JSON: {"default": 100, "visit": 50}.
    snapshot_every: dict[str, int] = Field(
        default_factory=lambda: {"default": 100}, validation_alias="CARETRAIL_SNAPSHOT_EVERY"
    )

    @model_validator(mode="after")
    def _secret_outside_dev(self) -> Settings:
        if self.jwt_secret is not None and not self.jwt_secret.strip():
            self.jwt_secret = None  # an empty secret is no secret
        if self.jwt_secret is None and self.env != "dev":
            msg = "CARETRAIL_JWT_SECRET is required unless CARETRAIL_ENV=dev"
            raise ValueError(msg)
        if not self.master_key and self.env not in ("dev", "test"):
            msg = "CARETRAIL_MASTER_KEY is required unless CARETRAIL_ENV is dev or test"
            raise ValueError(msg)
        try:
            key = base64.b64decode(self.master_key or DEV_MASTER_KEY, validate=True)
        except binascii.Error as e:
            raise ValueError("CARETRAIL_MASTER_KEY is not base64") from e
        if len(key) != 32:
            msg = "CARETRAIL_MASTER_KEY must be 32 bytes (base64 of 32 random bytes)"
            raise ValueError(msg)
        if any(not secret.strip() for secret in self.payment_webhook_secrets.values()):
            msg = "CARETRAIL_PAYMENT_WEBHOOK_SECRETS: every provider needs a non-empty secret"
            raise ValueError(msg)
        if not self.payment_webhook_secrets and self.env == "dev":
            self.payment_webhook_secrets = {"fakepay": DEV_FAKEPAY_SECRET}
        return self

    @property
    def master_key_bytes(self) -> bytes:
        return base64.b64decode(self.master_key or DEV_MASTER_KEY)

    @property
    def uses_dev_secret(self) -> bool:
        return self.jwt_secret is None

    @property
    def effective_jwt_secret(self) -> str:
        return self.jwt_secret or DEV_JWT_SECRET

    def runtime_dsn(self, owner_dsn: str) -> str:
        return self.app_database_url or with_user(owner_dsn, "caretrail_app")

    def relay_dsn(self, owner_dsn: str) -> str:
        return self.relay_database_url or with_user(owner_dsn, "caretrail_relay")

    def projector_dsn(self, owner_dsn: str) -> str:
        return self.projector_database_url or with_user(owner_dsn, "caretrail_projector")


def with_user(dsn: str, user: str) -> str:
    """The same DSN with another user name (and no password)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))


def sqlalchemy_url(dsn: str) -> str:
    """A libpq-style DSN as an SQLAlchemy asyncpg URL."""
    scheme, rest = dsn.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else dsn
