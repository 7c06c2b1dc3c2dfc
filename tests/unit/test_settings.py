"""Settings from the environment, and DSN helpers."""

from __future__ import annotations

import base64

import pydantic
import pytest

from backend.settings import (
    DEV_FAKEPAY_SECRET,
    DEV_JWT_SECRET,
    Settings,
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
)


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
    s = Settings(CARETRAIL_JWT_SECRET="s3cret-value", CARETRAIL_MASTER_KEY=KEY)
    assert s.env == "prod"
    assert not s.uses_dev_secret
    assert s.effective_jwt_secret == "s3cret-value"


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARETRAIL_ENV", "dev")
    monkeypatch.setenv("CARETRAIL_DB_POOL_SIZE", "7")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:pw@h:5432/db")
    s = Settings()
    assert (s.env, s.pool_size, s.database_url) == ("dev", 7, "postgresql://u:pw@h:5432/db")
    monkeypatch.setenv("CARETRAIL_ENV", "prod")
    with pytest.raises(pydantic.ValidationError):
        Settings()
    monkeypatch.setenv("CARETRAIL_JWT_SECRET", "from-env")
    monkeypatch.setenv("CARETRAIL_MASTER_KEY", KEY)
    assert Settings().effective_jwt_secret == "from-env"
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


def test_the_master_key_is_required_outside_dev_and_test_and_must_be_32_bytes() -> None:
    with pytest.raises(pydantic.ValidationError, match="CARETRAIL_MASTER_KEY is required"):
        Settings(CARETRAIL_JWT_SECRET="x")
    short = base64.b64encode(b"too short").decode()
    with pytest.raises(pydantic.ValidationError, match="32 bytes"):
        Settings(CARETRAIL_JWT_SECRET="x", CARETRAIL_MASTER_KEY=short)
    with pytest.raises(pydantic.ValidationError, match="not base64"):
        Settings(CARETRAIL_JWT_SECRET="x", CARETRAIL_MASTER_KEY="not base64!")
    assert len(Settings(CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET="x").master_key_bytes) == 32


def test_payment_webhook_secrets_default_to_fakepay_only_in_dev() -> None:
    assert Settings(CARETRAIL_ENV="dev").payment_webhook_secrets == {"fakepay": DEV_FAKEPAY_SECRET}
    assert (
        Settings(CARETRAIL_JWT_SECRET="x" * 32, CARETRAIL_MASTER_KEY=KEY).payment_webhook_secrets
        == {}
    )
    assert Settings(CARETRAIL_ENV="test", CARETRAIL_JWT_SECRET="x").payment_webhook_secrets == {}


def test_payment_webhook_secrets_come_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARETRAIL_PAYMENT_WEBHOOK_SECRETS", '{"razorpay": "r-secret"}')
    s = Settings(CARETRAIL_ENV="dev")
    assert s.payment_webhook_secrets == {"razorpay": "r-secret"}  # no dev default added
    monkeypatch.setenv("CARETRAIL_PAYMENT_WEBHOOK_SECRETS", '{"razorpay": " "}')
    with pytest.raises(pydantic.ValidationError, match="non-empty secret"):
        Settings(CARETRAIL_ENV="dev")
