"""Settings from the environment, and DSN helpers."""

from __future__ import annotations

import base64

import pydantic
import pytest

from backend.settings import (
    DEV_FAKEPAY_SECRET,
    DEV_JWT_SECRET,
    DEV_MASTER_KEY,
    Settings,
    SettingsRefused,
    sqlalchemy_url,
    with_user,
)

KEY = base64.b64encode(bytes(range(32))).decode()

ENV_VARS = (
    "CARETRAIL_ENV",
    "CARETRAIL_JWT_SECRET",
    "CARETRAIL_MASTER_KEY",
    "DATABASE_URL",
    "APP_DATABASE_URL",
    "CARETRAIL_DATA_DIR",
    "CARETRAIL_DB_POOL_SIZE",
    "CARETRAIL_LOG_LEVEL",
    "CARETRAIL_PAYMENT_WEBHOOK_SECRETS",
    "HOST",
    "PORT",
    "CARETRAIL_JWT_AUDIENCE",
    "CARETRAIL_JWT_ISSUER",
    "CARETRAIL_PAYMENT_WEBHOOK_SECRETS",
    "CARETRAIL_CHAIN_KEY",
    "CARETRAIL_CHAIN_SIGNING_KEY",
    "CARETRAIL_CHAIN_HEADS_DIR",
)
SECRET = "a-production-secret-0123456789abcdef"
CHAIN = {"CARETRAIL_CHAIN_KEY": KEY, "CARETRAIL_CHAIN_SIGNING_KEY": KEY}
TOKENS = {"CARETRAIL_JWT_AUDIENCE": "caretrail-api", "CARETRAIL_JWT_ISSUER": "https://idp.test/"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("kwargs", [{}, {"CARETRAIL_ENV": "prod"}, {"CARETRAIL_ENV": "staging"}])
def test_secret_is_required_outside_dev(kwargs: dict[str, str]) -> None:
    with pytest.raises(pydantic.ValidationError, match="CARETRAIL_JWT_SECRET is required"):
        Settings(**kwargs)
    with pytest.raises(ValueError):  # ValidationError is a ValueError
        Settings(**kwargs)


def test_dev_without_secret_uses_the_dev_secret() -> None:
    s = Settings(CARETRAIL_ENV="dev")
    assert s.env == "dev"
    assert s.uses_dev_secret
    assert s.effective_jwt_secret == DEV_JWT_SECRET


def test_an_explicit_secret_is_used() -> None:
    s = Settings(CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_MASTER_KEY=KEY, **CHAIN, **TOKENS)
    assert s.env == "prod"
    assert not s.uses_dev_secret
    assert s.effective_jwt_secret == SECRET


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARETRAIL_ENV", "dev")
    monkeypatch.setenv("CARETRAIL_DB_POOL_SIZE", "7")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@h:5432/db")
    s = Settings()
    assert (s.env, s.pool_size, s.database_url) == ("dev", 7, "postgresql://u:pw@h:5432/db")
    monkeypatch.setenv("CARETRAIL_ENV", "prod")
    with pytest.raises(pydantic.ValidationError):
        Settings()
    monkeypatch.setenv("CARETRAIL_JWT_SECRET", SECRET)
    monkeypatch.setenv("CARETRAIL_MASTER_KEY", KEY)
    for name, value in CHAIN.items():
        monkeypatch.setenv(name, value)
    for name, value in TOKENS.items():
        monkeypatch.setenv(name, value)
    assert Settings().effective_jwt_secret == SECRET
    assert Settings().master_key_bytes == bytes(range(32))


def test_defaults() -> None:
    s = Settings(CARETRAIL_ENV="dev")
    assert (s.host, s.port, s.database_url, s.app_database_url) == ("127.0.0.1", 8000, None, None)
    assert (s.checkin_opens_before_min, s.checkin_closes_after_min) == (30, 120)


def test_an_empty_secret_outside_dev_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        Settings(CARETRAIL_JWT_SECRET="")


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        (
            "postgresql://postgres:@/postgres?host=/tmp/x",
            "postgresql://caretrail_app@/postgres?host=/tmp/x",
        ),
        ("postgresql://u:pw@h:5432/db", "postgresql://caretrail_app@h:5432/db"),
        ("postgresql://u@h/db", "postgresql://caretrail_app@h/db"),
        ("postgresql://h:5432/db", "postgresql://caretrail_app@h:5432/db"),
        (
            "postgresql://u:p%40ss@h/db?sslmode=require",
            "postgresql://caretrail_app@h/db?sslmode=require",
        ),
    ],
)
def test_with_user_replaces_user_and_drops_password(dsn: str, expected: str) -> None:
    assert with_user(dsn, "caretrail_app") == expected


def test_runtime_dsn() -> None:
    s = Settings(CARETRAIL_ENV="dev")
    assert s.runtime_dsn("postgresql://o:pw@h/db") == "postgresql://caretrail_app@h/db"
    explicit = Settings(CARETRAIL_ENV="dev", APP_DATABASE_URL="postgresql://app:x@h/db")
    assert explicit.runtime_dsn("postgresql://o:pw@h/db") == "postgresql://app:x@h/db"


@pytest.mark.parametrize(
    ("dsn", "expected"),
    [
        ("postgresql://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_sqlalchemy_url(dsn: str, expected: str) -> None:
    assert sqlalchemy_url(dsn) == expected


@pytest.mark.parametrize("env", ["prod", "test", "staging"])
def test_the_master_key_is_required_outside_dev_and_must_be_32_bytes(env: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="CARETRAIL_MASTER_KEY is required"):
        Settings(CARETRAIL_ENV=env, CARETRAIL_JWT_SECRET="x")
    short = base64.b64encode(b"too short").decode()
    with pytest.raises(pydantic.ValidationError, match="32 bytes"):
        Settings(CARETRAIL_ENV=env, CARETRAIL_JWT_SECRET="x", CARETRAIL_MASTER_KEY=short)
    with pytest.raises(pydantic.ValidationError, match="not base64"):
        Settings(CARETRAIL_ENV=env, CARETRAIL_JWT_SECRET="x", CARETRAIL_MASTER_KEY="not base64!")
    assert Settings(CARETRAIL_ENV="dev").master_key_bytes == base64.b64decode(DEV_MASTER_KEY)


@pytest.mark.parametrize("env", ["prod", "test", "staging"])
def test_the_published_development_secrets_are_refused_outside_dev(env: str) -> None:
    safe = {
        "CARETRAIL_ENV": env,
        "CARETRAIL_JWT_SECRET": SECRET,
        "CARETRAIL_MASTER_KEY": KEY,
        **CHAIN,
    }
    assert Settings(**safe, **TOKENS).master_key_bytes == bytes(range(32))
    with pytest.raises(pydantic.ValidationError, match="public development secret; set"):
        Settings(**{**safe, "CARETRAIL_JWT_SECRET": DEV_JWT_SECRET}, **TOKENS)
    with pytest.raises(pydantic.ValidationError, match="public development key"):
        Settings(**{**safe, "CARETRAIL_MASTER_KEY": DEV_MASTER_KEY}, **TOKENS)
    fakepay = {"fakepay": DEV_FAKEPAY_SECRET}
    with pytest.raises(pydantic.ValidationError, match="holds the public development secret"):
        Settings(**safe, **TOKENS, CARETRAIL_PAYMENT_WEBHOOK_SECRETS=fakepay)


@pytest.mark.parametrize("secret", ["x", "s3cret-value", "x" * 64, "ab" * 32, "0123456" * 5])
def test_outside_dev_and_test_a_weak_jwt_secret_is_refused(secret: str) -> None:
    with pytest.raises(pydantic.ValidationError, match="at least 32 characters with at least 8"):
        Settings(CARETRAIL_JWT_SECRET=secret, CARETRAIL_MASTER_KEY=KEY, **CHAIN, **TOKENS)


@pytest.mark.parametrize("env", ["prod", "test", "staging"])
def test_only_dev_may_start_the_embedded_database(env: str) -> None:
    Settings(CARETRAIL_ENV="dev").require_database_outside_dev()
    secrets = {"CARETRAIL_JWT_SECRET": SECRET, "CARETRAIL_MASTER_KEY": KEY, **CHAIN, **TOKENS}
    with pytest.raises(SettingsRefused, match="DATABASE_URL is required unless CARETRAIL_ENV=dev"):
        Settings(CARETRAIL_ENV=env, **secrets).require_database_outside_dev()
    Settings(
        CARETRAIL_ENV=env, DATABASE_URL="postgresql://h/db", **secrets
    ).require_database_outside_dev()


def test_payment_webhook_secrets_default_to_fakepay_only_in_dev() -> None:
    assert Settings(CARETRAIL_ENV="dev").payment_webhook_secrets == {"fakepay": DEV_FAKEPAY_SECRET}
    assert (
        Settings(
            CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_MASTER_KEY=KEY, **CHAIN, **TOKENS
        ).payment_webhook_secrets
        == {}
    )
    test = Settings(CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET="x", CARETRAIL_MASTER_KEY=KEY)
    assert test.payment_webhook_secrets == {}


def test_payment_webhook_secrets_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARETRAIL_PAYMENT_WEBHOOK_SECRETS", '{"razorpay": "r-secret"}')
    s = Settings(CARETRAIL_ENV="dev")
    assert s.payment_webhook_secrets == {"razorpay": "r-secret"}  # no dev default added
    monkeypatch.setenv("CARETRAIL_PAYMENT_WEBHOOK_SECRETS", '{"razorpay": " "}')
    with pytest.raises(pydantic.ValidationError, match="non-empty secret"):
        Settings(CARETRAIL_ENV="dev")


def test_outside_dev_and_test_tokens_need_audience_issuer_and_a_long_secret() -> None:
    with pytest.raises(pydantic.ValidationError, match="AUDIENCE and CARETRAIL_JWT_ISSUER"):
        Settings(CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_MASTER_KEY=KEY, **CHAIN)
    with pytest.raises(pydantic.ValidationError, match="AUDIENCE and CARETRAIL_JWT_ISSUER"):
        Settings(
            CARETRAIL_JWT_SECRET=SECRET,
            CARETRAIL_MASTER_KEY=KEY,
            **CHAIN,
            CARETRAIL_JWT_AUDIENCE="a",
        )
    with pytest.raises(pydantic.ValidationError, match="at least 32 characters"):
        Settings(CARETRAIL_JWT_SECRET="s3cret-value", CARETRAIL_MASTER_KEY=KEY, **CHAIN, **TOKENS)
    settings = Settings(CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_MASTER_KEY=KEY, **CHAIN, **TOKENS)
    assert (settings.jwt_audience, settings.jwt_max_lifetime_seconds) == ("caretrail-api", 86400)
    # dev and test keep the contract's tokens: no audience, no issuer, any secret
    test = Settings(CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET="x", CARETRAIL_MASTER_KEY=KEY)
    assert test.jwt_audience is None


def test_the_chain_keys_are_required_outside_dev_and_test_and_must_be_32_bytes() -> None:
    """The tenant chain's HMAC key and head-signing key (docs/security.md)."""
    for missing in CHAIN:
        present = {k: v for k, v in CHAIN.items() if k != missing}
        with pytest.raises(pydantic.ValidationError, match=f"{missing} is required"):
            Settings(CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_MASTER_KEY=KEY, **present, **TOKENS)
    short = base64.b64encode(b"short").decode()
    with pytest.raises(pydantic.ValidationError, match="CARETRAIL_CHAIN_KEY must be 32 bytes"):
        Settings(
            CARETRAIL_ENV="test",
            CARETRAIL_JWT_SECRET="x",
            CARETRAIL_MASTER_KEY=KEY,
            CARETRAIL_CHAIN_KEY=short,
        )
    s = Settings(CARETRAIL_ENV="dev", CARETRAIL_DATA_DIR="/var/lib/ct")
    assert len(s.chain_key_bytes) == len(s.chain_signing_key_bytes) == 32
    assert s.chain_heads_path == "/var/lib/ct/chain-heads"
    chosen = Settings(CARETRAIL_JWT_SECRET=SECRET, CARETRAIL_MASTER_KEY=KEY, **CHAIN, **TOKENS)
    assert chosen.chain_key_bytes == bytes(range(32))


def test_local_webhook_urls_are_for_dev_and_test_only() -> None:
    """SSRF: http and private, loopback and link-local webhook URLs are allowed in dev and test
    by default, refused elsewhere, and cannot be switched on there."""
    production = {"CARETRAIL_JWT_SECRET": SECRET, "CARETRAIL_MASTER_KEY": KEY, **CHAIN, **TOKENS}
    assert not Settings(**production).webhook_local_urls_allowed
    assert Settings(CARETRAIL_ENV="test", **production).webhook_local_urls_allowed
    local = {**production, "CARETRAIL_ENV": "test", "CARETRAIL_WEBHOOK_LOCAL_URLS": "false"}
    assert not Settings(**local).webhook_local_urls_allowed
    with pytest.raises(pydantic.ValidationError, match="WEBHOOK_LOCAL_URLS may be true in dev"):
        Settings(**production, CARETRAIL_WEBHOOK_LOCAL_URLS="true")
