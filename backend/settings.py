"""Typed settings from the environment. Nothing is built at import time."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.eventstore.dsn import with_user

__all__ = ["Settings", "SettingsRefused", "sqlalchemy_url", "with_user"]

DEV_JWT_SECRET = "caretrail-dev-secret-not-for-production"
# 32 bytes, base64: the development master key for personal data (never in production).
DEV_MASTER_KEY = "Y2FyZXRyYWlsLWRldi1tYXN0ZXIta2V5LW5vdC1wcmQ="
DEV_FAKEPAY_SECRET = "fakepay-dev-webhook-secret-not-for-production"
# 32 bytes each, base64: the development keys of the tenant chain (never in production).
DEV_CHAIN_KEY = "Y2FyZXRyYWlsLWRldi1jaGFpbi1rZXktbm90LXByZC0="
DEV_CHAIN_SIGNING_KEY = "Y2FyZXRyYWlsLWRldi1zaWduaW5nLWtleS1ub3QtcHI="
MIN_JWT_SECRET_LENGTH = 32
MIN_JWT_SECRET_DISTINCT = 8
"""A shared HS256 secret needs length and variety: 32 repeated characters are one guess away."""
DEV_WEB_ORIGINS = ("http://127.0.0.1:3000", "http://localhost:3000")


class SettingsRefused(ValueError):
    """The settings are unsafe for this environment; the message names the setting, never its
    value."""


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
    # Where partner API keys' rate limits are counted (docs/partners.md, Rate limits); while it
    # cannot be reached each API process counts them itself.
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", validation_alias="CARETRAIL_REDIS_URL"
    )
    jwt_secret: str | None = Field(default=None, validation_alias="CARETRAIL_JWT_SECRET")
    # Tokens must name this audience (`aud`) and issuer (`iss`); both required outside dev and
    # test, where tokens without them (as the contract shows them) keep working.
    jwt_audience: str | None = Field(default=None, validation_alias="CARETRAIL_JWT_AUDIENCE")
    jwt_issuer: str | None = Field(default=None, validation_alias="CARETRAIL_JWT_ISSUER")
    # An identity provider's published keys: RS256/ES256 tokens are verified against them.
    jwt_jwks_url: str | None = Field(default=None, validation_alias="CARETRAIL_JWT_JWKS_URL")
    # The longest a token may live (exp less iat), whoever signed it.
    jwt_max_lifetime_seconds: int = Field(
        default=24 * 3600, gt=0, validation_alias="CARETRAIL_JWT_MAX_LIFETIME_SECONDS"
    )
    # Wraps every patient's data key (base64 of 32 bytes). Required unless CARETRAIL_ENV is dev
    # (test included: a test deployment must not seal data with the public key); losing it makes
    # all personal data unreadable, so back it up like the database.
    master_key: str | None = Field(default=None, validation_alias="CARETRAIL_MASTER_KEY")
    # The tenant chain (docs/security.md, Tamper evidence): the key of its HMACs, which the
    # database never holds (base64 of 32 bytes), the Ed25519 private key (base64 of its 32-byte
    # seed) that signs its heads, the directory outside the database the signed heads are written
    # to (unset: chain-heads under data_dir), and how often they are signed. Both keys are
    # required unless CARETRAIL_ENV is dev or test.
    chain_key: str | None = Field(default=None, validation_alias="CARETRAIL_CHAIN_KEY")
    chain_signing_key: str | None = Field(
        default=None, validation_alias="CARETRAIL_CHAIN_SIGNING_KEY"
    )
    chain_heads_dir: str | None = Field(default=None, validation_alias="CARETRAIL_CHAIN_HEADS_DIR")
    chain_sign_seconds: float = Field(
        default=60.0, gt=0, validation_alias="CARETRAIL_CHAIN_SIGN_SECONDS"
    )
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
    # QR check-in (docs/API.md, Check-in by QR code): a site's token changes every this many
    # seconds (the one before stays good), and a patient may try this many times a minute.
    checkin_qr_rotate_seconds: int = Field(default=180, ge=10)
    checkin_qr_attempts_per_minute: int = Field(default=5, ge=1)
    # Webhook deliveries (docs/partners.md) run with the reactions unless this is true (then
    # `caretrail webhooks run` runs them, alone). Consecutive failures before a subscription is
    # disabled, the wait after the first failure (each next one doubles, up to an hour), the
    # time a receiver has to answer, how long a dispatcher holds a subscription it delivers
    # (renewed at each delivery; a crashed one's claim lapses after it), how often to look.
    webhooks_own_process: bool = Field(
        default=False, validation_alias="CARETRAIL_WEBHOOKS_OWN_PROCESS"
    )
    webhook_max_failures: int = Field(default=10, ge=1)
    webhook_first_retry_seconds: float = Field(default=10.0, gt=0)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_lease_seconds: float = Field(default=60.0, gt=0)
    webhook_poll_seconds: float = Field(default=0.5, gt=0)
    # Webhook URLs may be http and reach loopback, private and link-local addresses (SSRF:
    # refused otherwise). Unset: allowed in dev and test only; true is refused anywhere else.
    webhook_local_urls: bool | None = Field(
        default=None, validation_alias="CARETRAIL_WEBHOOK_LOCAL_URLS"
    )
    # The bearer token a Prometheus scraper shows on GET /metrics (unset: open in dev only).
    metrics_token: str | None = Field(default=None, validation_alias="CARETRAIL_METRICS_TOKEN")
    # Webhook secret per payment provider, as JSON ({"fakepay": "..."}). Unset in dev → fakepay
    # with a dev secret; elsewhere no provider is accepted until one is configured.
    payment_webhook_secrets: dict[str, str] = Field(
        default_factory=dict, validation_alias="CARETRAIL_PAYMENT_WEBHOOK_SECRETS"
    )
    # How long a response stored under an Idempotency-Key is replayed (docs/architecture.md).
    idempotency_key_hours: float = Field(
        default=24.0, gt=0, validation_alias="CARETRAIL_IDEMPOTENCY_KEY_HOURS"
    )
    # Check-in window defaults for new tenants, in minutes around the appointment start.
    checkin_opens_before_min: int = 30
    checkin_closes_after_min: int = 120
    # Specialty plugins: one folder per plugin with its manifest.yaml (unset: the repository's
    # plugins/ folder).
    plugins_dir: str | None = Field(default=None, validation_alias="CARETRAIL_PLUGINS_DIR")
    # Plugin calculators run in this many worker processes; one that has not answered within
    # the budget (seconds) is abandoned, its worker killed, and the command refused (422).
    calculator_workers: int = Field(
        default=2, ge=1, validation_alias="CARETRAIL_CALCULATOR_WORKERS"
    )
    calculator_budget_seconds: float = Field(
        default=1.0, gt=0, validation_alias="CARETRAIL_CALCULATOR_BUDGET_SECONDS"
    )
    # Browser origins allowed to call the API (CORS), as JSON. Unset in dev → the web app's
    # development origins (port 3000, docs/frontend.md); elsewhere none until configured.
    cors_origins: list[str] = Field(default_factory=list, validation_alias="CARETRAIL_CORS_ORIGINS")
    access_log: bool = Field(default=True, validation_alias="CARETRAIL_ACCESS_LOG")
    """Record every read of a patient's records (backend/api/access.py). Off only to measure
    what it costs (make bench): refused off outside dev and test."""
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
        key = self._key("CARETRAIL_MASTER_KEY", self.master_key, DEV_MASTER_KEY, ("dev",))
        self._key("CARETRAIL_CHAIN_KEY", self.chain_key, DEV_CHAIN_KEY, ("dev", "test"))
        self._key(
            "CARETRAIL_CHAIN_SIGNING_KEY",
            self.chain_signing_key,
            DEV_CHAIN_SIGNING_KEY,
            ("dev", "test"),
        )
        if any(not secret.strip() for secret in self.payment_webhook_secrets.values()):
            msg = "CARETRAIL_PAYMENT_WEBHOOK_SECRETS: every provider needs a non-empty secret"
            raise ValueError(msg)
        self._no_dev_secret_outside_dev(key)
        if not self.payment_webhook_secrets and self.env == "dev":
            self.payment_webhook_secrets = {"fakepay": DEV_FAKEPAY_SECRET}
        self._token_rules_outside_dev()
        if self.webhook_local_urls and self.env not in ("dev", "test"):
            msg = "CARETRAIL_WEBHOOK_LOCAL_URLS may be true in dev or test only (SSRF)"
            raise ValueError(msg)
        if not self.access_log and self.env not in ("dev", "test"):
            msg = "CARETRAIL_ACCESS_LOG may be false in dev or test only (to measure its cost)"
            raise ValueError(msg)
        if not self.cors_origins and self.env == "dev":
            self.cors_origins = list(DEV_WEB_ORIGINS)
        return self

    def _no_dev_secret_outside_dev(self, master_key: bytes) -> None:
        """The development secrets are published in this repository: data sealed or tokens
        signed with them are open to anyone who reads it."""
        if self.env == "dev":
            return
        if self.jwt_secret == DEV_JWT_SECRET:
            msg = "CARETRAIL_JWT_SECRET is the public development secret; set your own"
            raise ValueError(msg)
        if master_key == base64.b64decode(DEV_MASTER_KEY):
            msg = "CARETRAIL_MASTER_KEY is the public development key; set your own"
            raise ValueError(msg)
        if DEV_FAKEPAY_SECRET in self.payment_webhook_secrets.values():
            msg = "CARETRAIL_PAYMENT_WEBHOOK_SECRETS holds the public development secret"
            raise ValueError(msg)

    def _key(
        self, name: str, value: str | None, dev_value: str, optional_in: tuple[str, ...]
    ) -> bytes:
        """A 32-byte key given in base64, required unless CARETRAIL_ENV is one of
        `optional_in` (the development key stands in then)."""
        if not value and self.env not in optional_in:
            msg = f"{name} is required unless CARETRAIL_ENV is {' or '.join(optional_in)}"
            raise ValueError(msg)
        try:
            key = base64.b64decode(value or dev_value, validate=True)
        except binascii.Error as e:
            raise ValueError(f"{name} is not base64") from e
        if len(key) != 32:
            msg = f"{name} must be 32 bytes (base64 of 32 random bytes)"
            raise ValueError(msg)
        return key

    def _token_rules_outside_dev(self) -> None:
        """Where real people sign in, a token for another service or from another issuer must
        not pass, and the shared secret must resist guessing (HS256 wants 256 bits)."""
        if self.env in ("dev", "test"):
            return
        if not self.jwt_audience or not self.jwt_issuer:
            msg = "CARETRAIL_JWT_AUDIENCE and CARETRAIL_JWT_ISSUER are required outside dev"
            raise ValueError(msg)
        secret = self.jwt_secret or ""
        if len(secret) < MIN_JWT_SECRET_LENGTH or len(set(secret)) < MIN_JWT_SECRET_DISTINCT:
            msg = (
                f"CARETRAIL_JWT_SECRET must be at least {MIN_JWT_SECRET_LENGTH} characters with"
                f" at least {MIN_JWT_SECRET_DISTINCT} different ones (openssl rand -hex 32)"
            )
            raise ValueError(msg)

    def require_database_outside_dev(self) -> None:
        """Without DATABASE_URL a process starts the embedded PostgreSQL under data_dir (one
        local server, trust authentication, no backups): only dev may."""
        if self.database_url is None and self.env != "dev":
            raise SettingsRefused(
                "DATABASE_URL is required unless CARETRAIL_ENV=dev"
                " (the embedded PostgreSQL is for development only)"
            )

    @property
    def webhook_local_urls_allowed(self) -> bool:
        if self.webhook_local_urls is None:
            return self.env in ("dev", "test")
        return self.webhook_local_urls

    @property
    def master_key_bytes(self) -> bytes:
        return base64.b64decode(self.master_key or DEV_MASTER_KEY)

    @property
    def chain_key_bytes(self) -> bytes:
        return base64.b64decode(self.chain_key or DEV_CHAIN_KEY)

    @property
    def chain_signing_key_bytes(self) -> bytes:
        return base64.b64decode(self.chain_signing_key or DEV_CHAIN_SIGNING_KEY)

    @property
    def chain_heads_path(self) -> str:
        return self.chain_heads_dir or f"{self.data_dir}/chain-heads"

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


def sqlalchemy_url(dsn: str) -> str:
    """A libpq-style DSN as an SQLAlchemy asyncpg URL."""
    scheme, rest = dsn.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme in ("postgresql", "postgres") else dsn
